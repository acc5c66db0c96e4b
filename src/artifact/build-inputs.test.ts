import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSpec } from '../spec/index.js';
import { sourceDigest } from './build-inputs.js';

const HELLO = fileURLToPath(new URL('../../examples/hello', import.meta.url));
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-src-'));
  cpSync(HELLO, dir, { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const digest = () => sourceDigest(loadSpec(join(dir, 'cairn.yaml')), 'hello');

describe('sourceDigest', () => {
  it('is the same for the same inputs, in another folder, with other file times', async () => {
    const here = await digest();
    const other = mkdtempSync(join(tmpdir(), 'cairn-src-'));
    try {
      cpSync(HELLO, other, { recursive: true });
      utimesSync(join(other, 'app/server.js'), new Date(0), new Date(0));
      expect(await sourceDigest(loadSpec(join(other, 'cairn.yaml')), 'hello')).toBe(here);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('changes when an application file, a baked file or the entrypoint changes', async () => {
    const seen = new Set([await digest()]);
    writeFileSync(join(dir, 'app/server.js'), `${readFileSync(join(dir, 'app/server.js'), 'utf8')}//\n`);
    seen.add(await digest());
    writeFileSync(join(dir, 'config/v1.json'), '{"version":"v1b"}');
    seen.add(await digest());
    const spec = join(dir, 'cairn.yaml');
    writeFileSync(
      spec,
      readFileSync(spec, 'utf8').replace(
        'entrypoint: ["node", "server.js"]',
        'entrypoint: ["node", "main.js"]',
      ),
    );
    seen.add(await digest());
    expect(seen.size).toBe(4);
  });

  it("changes when an environment's configuration file path is added, not when its content changes", async () => {
    const spec = join(dir, 'cairn.yaml');
    const before = await digest();
    writeFileSync(join(dir, 'config/prod-app.json'), '{"level":"warn"}');
    writeFileSync(
      spec,
      readFileSync(spec, 'utf8').replace(
        '    environments:\n',
        '    environments:\n      dev: { files: { /etc/hello/app.json: ./config/prod-app.json } }\n',
      ),
    );
    const withPath = await digest();
    expect(withPath).not.toBe(before);
    writeFileSync(join(dir, 'config/prod-app.json'), '{"level":"debug"}');
    expect(await digest()).toBe(withPath);
  });

  it('changes when a tmpfs or volume path is added: the image records its mount points', async () => {
    const spec = join(dir, 'cairn.yaml');
    const before = await digest();
    writeFileSync(
      spec,
      readFileSync(spec, 'utf8').replace('tmpfs: [/tmp]', 'tmpfs: [/tmp, /var/cache/hello]'),
    );
    const withTmpfs = await digest();
    expect(withTmpfs).not.toBe(before);
    writeFileSync(
      spec,
      readFileSync(spec, 'utf8').replace(
        'tmpfs: [/tmp',
        'volumes: [{ name: data, path: /data }]\n      tmpfs: [/tmp',
      ),
    );
    expect(await digest()).not.toBe(withTmpfs);
  });

  it('ignores files the image would not contain', async () => {
    const before = await digest();
    writeFileSync(join(dir, 'app/README.md'), 'not included by **/*.js or package.json');
    expect(await digest()).toBe(before);
  });
});
