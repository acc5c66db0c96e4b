import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configFilePoints, makeConfigFilePoint } from './config-files.js';

const LABEL = 'dev.cairn.config-files';
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cairn-cfg-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('configuration file mount points', () => {
  it('reads the paths an image records, and refuses a label that is not a list of clean paths', () => {
    expect(configFilePoints(undefined, 'img')).toEqual([]);
    expect(configFilePoints({ [LABEL]: '["/etc/b.json","/etc/a.json"]' }, 'img')).toEqual([
      '/etc/a.json',
      '/etc/b.json',
    ]);
    for (const bad of ['not json', '["etc/a"]', '["/etc/../shadow"]', '["/etc/"]'])
      expect(() => configFilePoints({ [LABEL]: bad }, 'img')).toThrow(
        /is not a list of clean absolute paths/,
      );
  });

  it('makes an empty read-only file (and its folders) where the image has none, and keeps one it has', async () => {
    await makeConfigFilePoint(root, '/etc/app/config.json', 'img');
    const made = join(root, 'etc/app/config.json');
    expect(readFileSync(made, 'utf8')).toBe('');
    expect(statSync(made).mode & 0o777).toBe(0o444);
    writeFileSync(join(root, 'etc/app/default.json'), '{"a":1}');
    await makeConfigFilePoint(root, '/etc/app/default.json', 'img');
    expect(readFileSync(join(root, 'etc/app/default.json'), 'utf8')).toBe('{"a":1}');
  });

  it('fails the image when a folder or a symlink is in the way', async () => {
    mkdirSync(join(root, 'etc/app.json'), { recursive: true });
    await expect(makeConfigFilePoint(root, '/etc/app.json', 'img')).rejects.toThrow(
      /cannot mount configuration file \/etc\/app.json: the image has a folder at \/etc\/app.json/,
    );
    symlinkSync('/etc', join(root, 'cfg'));
    await expect(makeConfigFilePoint(root, '/cfg/x.json', 'img')).rejects.toThrow(/has a symlink at \/cfg/);
  });
});
