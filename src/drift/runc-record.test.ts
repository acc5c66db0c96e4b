import { describe, expect, it } from 'vitest';
import { parseRuncRecord } from './runc-record.js';

const state = (
  cgroupPaths: Record<string, string>,
  labels = ['dev.cairn.service=web', 'bundle=/b/ins-1'],
) => ({
  init_process_pid: 4242,
  init_process_start: 99,
  cgroup_paths: cgroupPaths,
  config: { labels },
});

describe('parseRuncRecord', () => {
  it('takes the devices hierarchy on cgroup v1 (the one runc ps lists), even beside a unified one', () => {
    const record = parseRuncRecord(
      state({
        '': '/sys/fs/cgroup/unified/ins-1',
        memory: '/sys/fs/cgroup/memory/nested/ins-1',
        devices: '/sys/fs/cgroup/devices/ins-1',
      }),
    );
    expect(record).toEqual({
      pid: 4242,
      startTicks: 99,
      bundle: '/b/ins-1',
      cgroupDir: '/sys/fs/cgroup/devices/ins-1',
    });
  });

  it('takes the unified folder on cgroup v2', () => {
    expect(parseRuncRecord(state({ '': '/sys/fs/cgroup/ins-1' }))?.cgroupDir).toBe('/sys/fs/cgroup/ins-1');
  });

  it('has no record without a bundle label or a cgroup runc ps would list', () => {
    expect(parseRuncRecord(state({ devices: '/sys/fs/cgroup/devices/ins-1' }, ['x=y']))).toBeUndefined();
    expect(parseRuncRecord(state({ memory: '/sys/fs/cgroup/memory/ins-1' }))).toBeUndefined();
    expect(parseRuncRecord({ ...state({ '': '/x' }), init_process_pid: undefined })).toBeUndefined();
  });
});
