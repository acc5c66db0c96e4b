import { describe, expect, it } from 'vitest';
import { MASKED_PATHS, runcConfig, SECRETS_DIR } from './runc-config.js';

const input = {
  rootfs: '/ws/bundles/abc/rootfs',
  process: { uid: 65532, gid: 65532, env: [], args: ['node', 'server.js'], cwd: '/app' },
  env: ['PATH=/usr/bin', 'PORT=41000'],
  hostname: 'ins-1',
  tmpfs: ['/tmp'],
  annotations: { 'cairn.instance': 'ins-1' },
};

type Config = {
  process: Record<string, unknown> & { capabilities: Record<string, string[]> };
  root: unknown;
  mounts: Array<{ destination: string; type: string; options: string[] }>;
  linux: { namespaces: Array<{ type: string }>; maskedPaths: string[]; resources: Record<string, unknown> };
};

describe('runcConfig', () => {
  const config = runcConfig(input) as unknown as Config;

  it('runs the image user with no capabilities and no new privileges on a read-only root', () => {
    expect(config.root).toEqual({ path: input.rootfs, readonly: true });
    expect(config.process.user).toMatchObject({ uid: 65532, gid: 65532 });
    expect(config.process.noNewPrivileges).toBe(true);
    for (const set of Object.values(config.process.capabilities)) expect(set).toEqual([]);
  });

  it('gives own pid, ipc, uts and mount namespaces and shares the host network', () => {
    const types = config.linux.namespaces.map((n) => n.type).sort();
    expect(types).toEqual(['ipc', 'mount', 'pid', 'uts']);
    expect(config.linux.maskedPaths).toEqual(MASKED_PATHS);
  });

  it('mounts tmpfs only for the spec paths (beyond /dev) and secrets read-only', () => {
    const tmpfs = config.mounts.filter((m) => m.type === 'tmpfs' && !m.destination.startsWith('/dev'));
    expect(tmpfs.map((m) => m.destination)).toEqual(['/tmp']);
    expect(config.mounts.some((m) => m.destination === SECRETS_DIR)).toBe(false);
    const withSecrets = runcConfig({
      ...input,
      secretsDir: '/ws/runtime/ins-1/secrets',
    }) as unknown as Config;
    const secrets = withSecrets.mounts.find((m) => m.destination === SECRETS_DIR);
    expect(secrets?.options).toContain('ro');
  });

  it('binds each configuration file read-only at its path', () => {
    const withFiles = runcConfig({
      ...input,
      files: [{ path: '/etc/app/config.json', source: '/shm/ins-1/files/ab' }],
    }) as unknown as Config;
    const file = withFiles.mounts.find((m) => m.destination === '/etc/app/config.json');
    expect(file).toMatchObject({ type: 'bind', source: '/shm/ins-1/files/ab' });
    expect(file?.options).toEqual(expect.arrayContaining(['bind', 'ro', 'noexec']));
  });

  it('sets memory and cpu limits only when the spec asks', () => {
    expect(config.linux.resources.memory).toBeUndefined();
    const limited = runcConfig({ ...input, memoryMb: 128, cpus: 0.5 }) as unknown as Config;
    expect(limited.linux.resources.memory).toEqual({ limit: 134217728 });
    expect(limited.linux.resources.cpu).toEqual({ quota: 50000, period: 100000 });
  });
});
