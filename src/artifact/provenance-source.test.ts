import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gitSourceOf } from './provenance-source.js';

let repo: string;
const git = (...args: string[]) =>
  execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    encoding: 'utf8',
  }).trim();

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'cairn-git-'));
  mkdirSync(join(repo, 'svc'));
  writeFileSync(join(repo, 'svc/cairn.yaml'), 'project: x\n');
  git('init', '-q');
  git('add', '.');
  git('commit', '-q', '-m', 'first');
  git('remote', 'add', 'origin', 'https://user:token@example.com/acme/app.git');
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

describe('gitSourceOf (what provenance says about the source)', () => {
  it('records the commit and the origin without credentials, and a clean tree', () => {
    const source = gitSourceOf(join(repo, 'svc/cairn.yaml'));
    expect(source).toMatchObject({
      commit: git('rev-parse', 'HEAD'),
      dirty: false,
      origin: 'https://example.com/acme/app.git',
    });
  });

  it('marks the tree dirty when a file differs from the commit', () => {
    writeFileSync(join(repo, 'svc/new.js'), 'x\n');
    expect(gitSourceOf(join(repo, 'svc/cairn.yaml'))?.dirty).toBe(true);
  });

  it('records nothing outside a repository', () => {
    const plain = mkdtempSync(join(tmpdir(), 'cairn-nogit-'));
    try {
      expect(gitSourceOf(join(plain, 'cairn.yaml'))).toBeUndefined();
    } finally {
      rmSync(plain, { recursive: true, force: true });
    }
  });
});
