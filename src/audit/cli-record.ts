/**
 * What a command that changes artifacts (build, sign, push, keygen) records, from its own process:
 * the entries land in state.db beside the control plane's (each append reads the next index inside
 * an IMMEDIATE transaction, so two processes never clash) and are signed before the command exits.
 */
import { diskFullError } from '../lib/index.js';
import { openStateStore, type Workspace, workspaceExists } from '../state/index.js';
import type { AuditEvent } from './entry.js';
import { SqliteAuditLog } from './sqlite-audit-log.js';

/** Records `events` in the workspace's audit log; does nothing where there is no workspace. */
export function recordFromCommand(ws: Workspace, events: AuditEvent[]): void {
  if (events.length === 0 || !workspaceExists(ws)) return;
  try {
    const store = openStateStore(ws);
    try {
      const audit = new SqliteAuditLog(store, { keyDir: ws.keys });
      store.transaction(() => {
        for (const event of events) audit.record(event);
      });
      audit.close();
    } finally {
      store.close();
    }
  } catch (error) {
    throw diskFullError(error, 'recording in the audit log', ws.stateDb) ?? error;
  }
}
