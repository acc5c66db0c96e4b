import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gitAnnotations } from './git-info.js';

let repo: string;
const git = (...args: string[]) =>
  execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    encoding: 'utf8',
  }).trim();

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'cairn-git-'));
  mkdirSync(join(repo, 'svc'));
  mkdirSync(join(repo, 'other'));
  writeFileSync(join(repo, 'svc/cairn.yaml'), 'project: x\n');
  writeFileSync(join(repo, 'other/notes.txt'), 'a\n');
  git('init', '-q');
  git('add', '.');
  git('commit', '-q', '-m', 'first');
  git('remote', 'add', 'origin', 'https://user:token@example.com/acme/app.git');
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

describe('git annotations', () => {
  it('records the commit and the origin without credentials', () => {
    expect(gitAnnotations(join(repo, 'svc'))).toEqual({
      'org.opencontainers.image.revision': git('rev-parse', 'HEAD'),
      'org.opencontainers.image.source': 'https://example.com/acme/app.git',
    });
  });

  it('marks the revision dirty only for changes under the spec folder', () => {
    writeFileSync(join(repo, 'other/notes.txt'), 'b\n');
    expect(gitAnnotations(join(repo, 'svc'))['org.opencontainers.image.revision']).toBe(
      git('rev-parse', 'HEAD'),
    );
    writeFileSync(join(repo, 'svc/new.js'), 'x\n');
    expect(gitAnnotations(join(repo, 'svc'))['org.opencontainers.image.revision']).toBe(
      `${git('rev-parse', 'HEAD')}-dirty`,
    );
  });

  it('records nothing outside a repository', () => {
    const plain = mkdtempSync(join(tmpdir(), 'cairn-nogit-'));
    try {
      expect(gitAnnotations(plain)).toEqual({});
    } finally {
      rmSync(plain, { recursive: true, force: true });
    }
  });
});
