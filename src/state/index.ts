/** Durable state: the `StateStore` interface, its SQLite implementation, and the `.cairn/` workspace. */
export { corruptionError, isCorruption, stateErrorOf } from './sqlite/corruption.js';
export { MIGRATIONS, type Migration } from './sqlite/migrations.js';
export {
  createSqliteStateStore,
  SqliteStateStore,
  type SqliteStateStoreConfig,
} from './sqlite/sqlite-state-store.js';
export type { StateReader, StateStore, StateWriter } from './state-store.js';
export * from './types.js';
export {
  initWorkspace,
  openStateStore,
  WORKSPACE_DIR,
  type Workspace,
  workspaceExists,
  workspaceFor,
} from './workspace.js';
