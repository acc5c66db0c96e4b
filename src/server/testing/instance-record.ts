/** A live instance record for unit tests of the control plane; fields can be overridden. Test support only. */
import type { InstanceRecord } from '../../state/index.js';

const T0 = '2026-11-26T10:00:00.000Z';

export function instanceRecord(id: string, over: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    id,
    releaseId: 'rel-000000000001',
    service: 'hello',
    env: 'dev',
    driver: 'runc',
    state: 'healthy',
    handle: {},
    identity: { imageDigest: `sha256:${'a'.repeat(64)}` },
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}
