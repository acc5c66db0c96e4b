import { describe, expect, it } from 'vitest';
import type { InstanceHandle, RuntimeConfig, RuntimeDriver } from '../runtime/index.js';
import type { InstanceRecord } from '../state/index.js';
import { checkDrift } from './check.js';

const handle = {
  id: 'ins-fresh',
  kind: 'runc',
  releaseId: 'rel-1',
  service: 'hello',
  env: 'dev',
} as InstanceHandle;
/** A driver that runs one container nobody passed in: a replacement started during the check. */
const driver = {
  kind: 'runc',
  list: async () => [handle],
  inspect: async () => ({ status: 'running' }),
} as unknown as RuntimeDriver;
const runtime = { bundlesDir: '/nonexistent', runtimeDir: '/nonexistent' } as RuntimeConfig;
const record = (state: InstanceRecord['state']) =>
  ({
    id: 'ins-fresh',
    releaseId: 'rel-1',
    service: 'hello',
    env: 'dev',
    driver: 'runc',
    state,
    identity: {},
    handle: {},
  }) as unknown as InstanceRecord;

describe('checkDrift: containers started while it runs', () => {
  const check = (recordOf?: (id: string) => InstanceRecord | undefined) =>
    checkDrift({
      instances: [],
      runtime,
      env: 'dev',
      driverFor: () => driver,
      ...(recordOf ? { recordOf } : {}),
    });

  it('calls a container no record names unknown', async () => {
    const [r] = await check(() => undefined);
    expect(r).toMatchObject({ instance: 'ins-fresh', recorded: false, verdict: { status: 'unknown' } });
  });

  it('does not call a replacement that is still starting unknown', async () => {
    expect(await check(() => record('starting'))).toEqual([]);
  });

  it('checks a replacement whose record appeared meanwhile under its own name, as recorded', async () => {
    const [r] = await check(() => record('healthy'));
    expect(r).toMatchObject({ instance: 'ins-fresh', recorded: true, service: 'hello', release: 'rel-1' });
    expect(r!.verdict.status).not.toBe('in-sync');
  });
});
