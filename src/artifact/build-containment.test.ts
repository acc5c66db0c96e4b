import { cpSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSpec } from '../spec/index.js';
import { readBuildInputs } from './build-inputs.js';
import { contextEntries, selectContextFiles } from './context-files.js';

// Given a valid project, when a path it names is swapped for a way out after `cairn validate`
// passed, then reading the build inputs refuses it: the check is made again at the moment of reading.
const HELLO = fileURLToPath(new URL('../../examples/hello', import.meta.url));
let project: string;
let host: string;
beforeEach(() => {
  project = realpathSync(mkdtempSync(join(tmpdir(), 'cairn-src-')));
  host = realpathSync(mkdtempSync(join(tmpdir(), 'cairn-host-')));
  cpSync(HELLO, project, { recursive: true });
  writeFileSync(join(host, 'shadow'), 'root:$6$not-for-images:19000::::::\n');
  writeFileSync(join(host, 'server.js'), 'host code');
  writeFileSync(join(host, 'package.json'), '{}');
});
afterEach(() => {
  rmSync(project, { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
});

const inputs = (loaded = loadSpec(join(project, 'cairn.yaml'))) => readBuildInputs(loaded, 'hello');

describe('build inputs stay inside the project folder', () => {
  it('reads the files of a valid project', () => {
    expect(inputs().files[0]!.data!.toString()).toContain('v1');
  });

  it('refuses a baked file swapped for a symlink to a host file after validation', () => {
    const loaded = loadSpec(join(project, 'cairn.yaml'));
    rmSync(join(project, 'config/v1.json'));
    symlinkSync(join(host, 'shadow'), join(project, 'config/v1.json'));
    expect(() => inputs(loaded)).toThrow(
      /reading \.\/config\/v1\.json: it leads to .*shadow, outside the project folder/,
    );
  });

  it('refuses /etc/passwd named through ../', () => {
    const loaded = loadSpec(join(project, 'cairn.yaml'));
    loaded.spec.services.hello!.build.files = { '/etc/p': `${'../'.repeat(12)}etc/passwd` };
    expect(() => inputs(loaded)).toThrow(/leads to \/etc\/passwd, outside the project folder/);
  });

  it('refuses a context that became a symlinked folder outside, or that goes ../ out', () => {
    const loaded = loadSpec(join(project, 'cairn.yaml'));
    rmSync(join(project, 'app'), { recursive: true });
    symlinkSync(host, join(project, 'app'));
    expect(() => inputs(loaded)).toThrow(
      /reading the build context \.\/app: it leads to .*cairn-host-.*, outside/,
    );
    loaded.spec.services.hello!.build.context = '../'.repeat(12) + 'etc/apt';
    expect(() => inputs(loaded)).toThrow(/leads to \/etc\/apt, outside the project folder/);
  });

  it('refuses a context file swapped for a link out between the walk and the read', () => {
    const context = join(project, 'app');
    const files = selectContextFiles({ context, include: ['**/*.js'], exclude: [] });
    renameSync(join(context, 'server.js'), join(project, 'moved.js'));
    symlinkSync(join(host, 'server.js'), join(context, 'server.js'));
    expect(() => contextEntries(context, files, '/app')).toThrow(/symlink points outside the build context/);
  });
});
