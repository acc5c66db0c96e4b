import { describe, expect, it } from 'vitest';
import { bwrapCommand } from './bwrap-args.js';

const input = {
  rootfsFd: 3,
  process: { uid: 65532, gid: 65532, env: [], args: ['node', 'server.js'], cwd: '/app' },
  env: ['PATH=/usr/bin', 'GREETING=a=b'],
  hostname: 'ins-1',
  tmpfs: ['/tmp'],
};

/** The value following a flag in argv. */
const valueAfter = (argv: string[], flag: string) => argv[argv.indexOf(flag) + 1];

describe('bwrapCommand', () => {
  it('binds the bundle read-only as / and runs the image command after --', () => {
    const argv = bwrapCommand(input);
    expect(argv[0]).toBe('bwrap');
    expect(argv.slice(1, 4)).toEqual(['--ro-bind-fd', '3', '/']);
    expect(argv.slice(argv.indexOf('--') + 1)).toEqual(['node', 'server.js']);
  });

  it('drops capabilities, unshares namespaces and keeps values with = intact', () => {
    const argv = bwrapCommand(input);
    expect(valueAfter(argv, '--cap-drop')).toBe('ALL');
    expect(argv).toContain('--disable-userns');
    for (const ns of ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-user'])
      expect(argv).toContain(ns);
    expect(argv).not.toContain('--unshare-net');
    const i = argv.lastIndexOf('--setenv');
    expect(argv.slice(i, i + 3)).toEqual(['--setenv', 'GREETING', 'a=b']);
  });

  it('binds secrets read-only only when there are some, and runs as the image user', () => {
    expect(bwrapCommand(input)).not.toContain('/run/secrets');
    const argv = bwrapCommand({ ...input, secretsFd: 4 });
    expect(valueAfter(argv, '--uid')).toBe('65532');
    const j = argv.indexOf('/run/secrets');
    expect(argv.slice(j - 2, j + 1)).toEqual(['--ro-bind-fd', '4', '/run/secrets']);
  });

  it('binds each configuration file read-only at its path', () => {
    const argv = bwrapCommand({ ...input, files: [{ fd: 5, path: '/etc/app/config.json' }] });
    const j = argv.indexOf('/etc/app/config.json');
    expect(argv.slice(j - 2, j + 1)).toEqual(['--ro-bind-fd', '5', '/etc/app/config.json']);
  });
});
