/** What `cairn init` records: the workspace and its audit key as the first entries, signed at once. */
import { openStateStore, type Workspace } from '../state/index.js';
import { noteKeyId } from './checkpoint.js';
import { SqliteAuditLog } from './sqlite-audit-log.js';

/** Records `workspace.init` and `key.create` (the audit key) and signs the first checkpoint. */
export function recordWorkspaceInit(ws: Workspace): void {
  const store = openStateStore(ws);
  try {
    const audit = new SqliteAuditLog(store, { keyDir: ws.keys });
    const origin = audit.origin!;
    const keyId = noteKeyId(origin, audit.publicKey()).toString('hex');
    store.transaction(() => {
      audit.record({ action: 'workspace.init', subject: {}, reason: 'cairn init' });
      audit.record({
        action: 'key.create',
        subject: {},
        detail: { purpose: 'audit', keyId, origin, algorithm: 'ed25519' },
      });
    });
    audit.close();
  } finally {
    store.close();
  }
}
