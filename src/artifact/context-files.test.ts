import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contextEntries, selectContextFiles } from './context-files.js';

let ctx: string;
beforeEach(() => {
  ctx = mkdtempSync(join(tmpdir(), 'cairn-ctx-'));
  mkdirSync(join(ctx, 'lib'));
  mkdirSync(join(ctx, 'node_modules/dep'), { recursive: true });
  mkdirSync(join(ctx, '.git'));
  writeFileSync(join(ctx, 'server.js'), 'server');
  writeFileSync(join(ctx, 'lib/util.js'), 'util');
  writeFileSync(join(ctx, 'lib/util.test.js'), 'test');
  writeFileSync(join(ctx, 'node_modules/dep/index.js'), 'dep');
  writeFileSync(join(ctx, '.git/config'), 'git');
  symlinkSync('lib/util.js', join(ctx, 'alias.js'));
});
afterEach(() => rmSync(ctx, { recursive: true, force: true }));

describe('build context selection', () => {
  it('picks included files, drops excluded ones, and never takes node_modules or .git', () => {
    const files = selectContextFiles({ context: ctx, include: ['**/*'], exclude: ['**/*.test.js'] });
    expect(files).toEqual(['alias.js', 'lib/util.js', 'server.js']);
  });

  it('keeps a symlink inside the context as a link under the workdir', () => {
    const entries = contextEntries(ctx, ['alias.js', 'server.js'], '/app');
    expect(entries).toEqual([
      { path: 'app/alias.js', type: 'symlink', mode: 0o777, linkname: 'lib/util.js' },
      expect.objectContaining({ path: 'app/server.js', type: 'file', data: Buffer.from('server') }),
    ]);
  });

  it('names the glob that matched nothing', () => {
    expect(() =>
      selectContextFiles({ context: ctx, include: ['**/*.js', 'package.json'], exclude: [] }),
    ).toThrow(/no file matches include "package.json"/);
  });
});
