/**
 * Runbook: `cairn drift` checks an instance's whole recorded identity, not only its files. One
 * examples/hello instance with a secret runs under `cairn up` with real runc. When its runtime
 * config (config.json of its runc bundle) or its mounted secret file is changed, drift exits 2
 * naming the config field or the secret, and no value (env value, secret) appears in the report,
 * the JSON output or the audit log. Restored, it is in sync again.
 */
import {
  chmodSync,
  copyFileSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDrivers, privateDirOf } from '../../src/runtime/index.js';
import { cairnAsync } from '../helpers/cli.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const runcUsable = detectDrivers().some((d) => d.kind === 'runc' && d.usable);
const SKIP_REASON = 'runc is not usable here (needs root and the runc package): drift identity e2e skipped';
const SETUP_MS = 300_000;
const STEP_MS = 120_000;
const SECRET_VALUE = 'sk-e2e-7f3c9a1b2d4e';
const PLANTED_SECRET = 'sk-planted-0000aaaa';
const PLANTED_ENV = 'greeting-from-an-intruder';

interface Reason {
  kind: string;
  field?: string;
  name?: string;
  change?: string;
}
interface Report {
  inSync: boolean;
  instances: Array<{
    instance: string;
    verdict: { status: string; notChecked?: string[]; reasons?: Reason[] };
  }>;
}

if (!runcUsable) console.warn(SKIP_REASON);

describe.runIf(runcUsable)('cairn drift: runtime config and secrets, with real runc', () => {
  let ws: HelloWorkspace;
  let instance: string;

  const drift = async () => {
    const json = await ws.runAsync(['drift', '--env', 'dev', '-o', 'json']);
    const text = await ws.runAsync(['drift', '--env', 'dev']);
    expect([0, 2], json.stderr).toContain(json.code);
    return { code: json.code, report: JSON.parse(json.stdout) as Report, json, text };
  };
  /** The instance's private folder (in memory, outside .cairn): its secrets and runc's config.json. */
  const instanceFile = (...parts: string[]) =>
    join(privateDirOf({ runtimeDir: join(ws.dir, '.cairn', 'runtime') }, instance), ...parts);
  const auditText = async () => (await ws.runAsync(['audit', 'log', '--env', 'dev', '-o', 'json'])).stdout;
  /** Everything a user or an auditor can see of a check. */
  const everything = async (d: Awaited<ReturnType<typeof drift>>) =>
    [d.json.stdout, d.json.stderr, d.text.stdout, d.text.stderr, await auditText()].join('\n');

  beforeAll(async () => {
    ws = new HelloWorkspace(
      helloSpec(await freePort(), '{ strategy: rolling }')
        .replace('replicas: 2', 'replicas: 1')
        .replace('tmpfs: [/tmp]', 'tmpfs: [/tmp]\n      secrets: [API_TOKEN]')
        // These cases are about `cairn drift` on demand: keep cairn up's own loop from replacing the instance.
        .replace('dev: { gateway', 'dev: { drift: { mode: warn, intervalMs: 1h, fastPath: false }, gateway'),
    );
    const env = { CAIRN_SECRET_API_TOKEN: SECRET_VALUE };
    for (const args of [
      ['init'],
      ['build', 'hello'],
      ['up', '--detach', '--driver', 'runc'],
      ['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '120s'],
    ]) {
      const r = await cairnAsync(args, { cwd: ws.dir, env, timeoutMs: SETUP_MS });
      expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  }, SETUP_MS);

  afterAll(() => ws?.cleanup(), SETUP_MS);

  it(
    'Given a running instance with a secret, then every part of its identity is checked and it is in sync, and the identity key is 0600',
    async () => {
      const { code, report } = await drift();
      expect(code).toBe(0);
      expect(report.instances).toHaveLength(1);
      expect(report.instances[0]!.verdict).toEqual({ status: 'in-sync', notChecked: [] });
      instance = report.instances[0]!.instance;
      expect(readFileSync(instanceFile('secrets', 'API_TOKEN'), 'utf8')).toBe(SECRET_VALUE);
      const key = join(ws.dir, '.cairn', 'keys', 'identity-hmac.key');
      expect(statSync(key).mode & 0o777).toBe(0o600);
    },
    STEP_MS,
  );

  it(
    "Given the instance's config.json changed on disk (an env value changed, one added, a capability), then drift exits 2 naming those fields and printing no value; restored, it is in sync",
    async () => {
      const file = instanceFile('config.json');
      const original = readFileSync(file, 'utf8');
      const config = JSON.parse(original) as {
        process: { env: string[]; capabilities: { bounding: string[] } };
      };
      config.process.env = config.process.env.map((e) => (e.startsWith('PORT=') ? `PORT=${PLANTED_ENV}` : e));
      config.process.env.push(`GREETING=${PLANTED_ENV}`);
      config.process.capabilities.bounding.push('CAP_SYS_ADMIN');
      writeFileSync(file, JSON.stringify(config));

      const d = await drift();
      expect(d.code).toBe(2);
      const reasons = d.report.instances[0]!.verdict.reasons!;
      expect(reasons.map((r) => `${r.kind} ${r.field} ${r.change}`).sort()).toEqual([
        'config process.capabilities changed',
        'config process.env.GREETING added',
        'config process.env.PORT changed',
      ]);
      expect(d.text.stdout).toContain('config.json process.env.GREETING: added');
      expect(d.text.stdout).toContain('~ config.json process.capabilities: changed');
      expect(d.text.stdout).toContain('~ config.json process.env.PORT: changed hmac-sha256:');
      const seen = await everything(d);
      expect(seen).toContain('process.env.GREETING');
      expect(seen).not.toContain(PLANTED_ENV);
      expect(seen).not.toContain(SECRET_VALUE);

      writeFileSync(file, original);
      expect((await drift()).code).toBe(0);
    },
    STEP_MS,
  );

  it(
    'Given the secret file mounted into the instance replaced, then drift exits 2 naming the secret, never its old or new value; restored, it is in sync',
    async () => {
      const file = instanceFile('secrets', 'API_TOKEN');
      const { mode } = statSync(file);
      chmodSync(file, 0o600);
      writeFileSync(file, PLANTED_SECRET);
      chmodSync(file, mode);

      const d = await drift();
      expect(d.code).toBe(2);
      expect(d.report.instances[0]!.verdict.reasons).toEqual([
        expect.objectContaining({ kind: 'secret', name: 'API_TOKEN', change: 'changed' }),
      ]);
      expect(d.text.stdout).toContain('~ secret API_TOKEN: changed hmac-sha256:');
      const seen = await everything(d);
      expect(seen).not.toContain(PLANTED_SECRET);
      expect(seen).not.toContain(SECRET_VALUE);
      expect((await ws.runAsync(['audit', 'verify'])).code).toBe(0);

      chmodSync(file, 0o600);
      writeFileSync(file, SECRET_VALUE);
      chmodSync(file, mode);
      expect((await drift()).code).toBe(0);
    },
    STEP_MS,
  );

  it(
    'Given the identity key removed, then drift cannot vouch for the instance: exit 2, unknown, with a hint; restored, in sync',
    async () => {
      const key = join(ws.dir, '.cairn', 'keys', 'identity-hmac.key');
      const saved = readFileSync(key);
      renameSync(key, `${key}.away`);
      const d = await drift();
      expect(d.code).toBe(2);
      expect(d.report.instances[0]!.verdict).toEqual({
        status: 'unknown',
        detail: expect.stringContaining('identity-hmac.key does not exist'),
      });
      expect(d.text.stdout).toContain('restore it from a backup of the workspace');
      renameSync(`${key}.away`, key);
      expect(readFileSync(key).equals(saved)).toBe(true);
      expect((await drift()).code).toBe(0);
    },
    STEP_MS,
  );

  it(
    "Given the bundle's node replaced by a byte-identical copy, then the files match but the init process runs a file no longer in the bundle: drift exits 2 naming it",
    async () => {
      const bundles = join(ws.dir, '.cairn', 'bundles');
      const [hex] = readdirSync(bundles).filter((n) => /^[0-9a-f]{64}$/.test(n));
      const node = join(bundles, hex!, 'rootfs', 'usr', 'bin', 'node');
      const dir = join(bundles, hex!, 'rootfs', 'usr', 'bin');
      const { mode } = statSync(dir);
      chmodSync(dir, 0o755);
      copyFileSync(node, `${node}.copy`);
      chmodSync(`${node}.copy`, statSync(node).mode);
      renameSync(`${node}.copy`, node);
      chmodSync(dir, mode);

      const d = await drift();
      expect(d.code).toBe(2);
      const reasons = d.report.instances[0]!.verdict.reasons!;
      expect(reasons).toEqual([expect.objectContaining({ kind: 'process' })]);
      // What differs is named (the file was replaced: deleted, another inode), not two equal paths.
      expect(d.text.stdout).toMatch(
        /! process init pid \d+ runs a deleted file that was \/usr\/bin\/node \(inode \d+\); the bundle's \/usr\/bin\/node is another file \(inode \d+\): the executable it started from was replaced/,
      );
      expect(d.text.stdout).not.toContain("the image's entrypoint runs /usr/bin/node");
    },
    STEP_MS,
  );
});
