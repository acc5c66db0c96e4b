import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cairn, cairnAsync, REPO_ROOT } from '../helpers/cli.js';

const run = cairnAsync;

// One small production dependency (ms, no dependencies of its own) and one dev dependency that must
// stay out of the image. Installing needs the npm registry.
const PACKAGE = {
  name: 'hello',
  version: '1.0.0',
  private: true,
  type: 'module',
  dependencies: { ms: '2.1.3' },
  devDependencies: { 'left-pad': '1.3.0' },
};
const LOCK = {
  name: 'hello',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': PACKAGE,
    'node_modules/ms': {
      version: '2.1.3',
      resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz',
      integrity:
        'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==',
      license: 'MIT',
    },
    'node_modules/left-pad': {
      version: '1.3.0',
      resolved: 'https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz',
      integrity:
        'sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQGinBN9yTQT3bFlCBy/aVx2HrNcqQGsdot8ghrjyrvMCoEA==',
      dev: true,
      license: 'WTFPL',
    },
  },
};

describe('cairn build with a lockfile: the dependencies layer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-deps-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('Given a service with package-lock.json, then production node_modules form their own cached layer before the app', async () => {
    cpSync(join(REPO_ROOT, 'examples/hello'), dir, { recursive: true });
    writeFileSync(join(dir, 'app/package.json'), JSON.stringify(PACKAGE, null, 2));
    writeFileSync(join(dir, 'app/package-lock.json'), JSON.stringify(LOCK, null, 2));
    expect(cairn(['init'], { cwd: dir }).code).toBe(0);
    const first = await run(['build', '--output', 'json'], { cwd: dir });
    expect(first.stderr).toBe('');
    const image = JSON.parse(first.stdout).images[0];
    expect(image.layers).toHaveLength(4);

    writeFileSync(join(dir, 'app/server.js'), `${readFileSync(join(dir, 'app/server.js'), 'utf8')}// edit\n`);
    const second = JSON.parse((await run(['build', '--output', 'json'], { cwd: dir })).stdout).images[0];
    expect(second.layers.map((l: { cached: boolean }) => l.cached)).toEqual([true, true, false, true]);

    const bundle = join(dir, 'bundle');
    execFileSync(
      'umoci',
      ['unpack', '--rootless', '--image', `${join(dir, '.cairn/store')}:hello:latest`, bundle],
      { stdio: 'ignore' },
    );
    const modules = join(bundle, 'rootfs/app/node_modules');
    expect(JSON.parse(readFileSync(join(modules, 'ms/package.json'), 'utf8')).version).toBe('2.1.3');
    expect(existsSync(join(modules, 'left-pad'))).toBe(false);
  });

  it('Given dependencies in package.json but no lockfile, build fails before writing anything and says how to make one', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'cairn-nolock-'));
    try {
      cpSync(join(REPO_ROOT, 'examples/hello'), bare, { recursive: true });
      writeFileSync(join(bare, 'app/package.json'), JSON.stringify(PACKAGE, null, 2));
      expect(cairn(['init'], { cwd: bare }).code).toBe(0);
      const refused = await run(['build'], { cwd: bare });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /^error: building hello: package\.json lists 1 dependencies \(ms\) but there is no package-lock\.json/,
      );
      expect(refused.stderr).toContain('hint: create it with `npm install --package-lock-only`');
      expect(refused.stderr).not.toMatch(/\n\s+at /);
      expect(cairn(['images'], { cwd: bare }).stdout).not.toContain('hello:latest');

      writeFileSync(join(bare, 'app/package.json'), JSON.stringify({ ...PACKAGE, dependencies: {} }));
      const warned = await run(['build'], { cwd: bare });
      expect(warned.code, warned.stderr).toBe(0);
      expect(warned.stderr).toContain(
        'warning: building hello: no package-lock.json and no dependencies in package.json',
      );
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});
