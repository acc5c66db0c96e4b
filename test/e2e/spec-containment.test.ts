import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, REPO_ROOT } from '../helpers/cli.js';

// A repository's author is not trusted with the build host: every path cairn.yaml names must
// stay inside the project folder, or `cairn validate` points at it and `cairn build` refuses it.
const temps: string[] = [];
let host: string;
const SECRET = 'root:$6$host-secret-not-for-images:19000:0:99999:7:::';

beforeAll(() => {
  host = realpathSync(mkdtempSync(join(tmpdir(), 'cairn-host-')));
  temps.push(host);
  writeFileSync(join(host, 'shadow'), `${SECRET}\n`);
  writeFileSync(join(host, 'server.js'), 'host code');
  writeFileSync(join(host, 'package.json'), '{}');
});
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-contain-'));
  temps.push(dir);
  cpSync(join(REPO_ROOT, 'examples/hello'), dir, { recursive: true });
  expect(cairn(['init'], { cwd: dir }).code).toBe(0);
  return dir;
}

function edit(dir: string, from: string, to: string): string {
  const file = join(dir, 'cairn.yaml');
  const text = readFileSync(file, 'utf8');
  expect(text).toContain(from);
  writeFileSync(file, text.replace(from, to));
  return text.replace(from, to);
}

/** line:column of the first `needle` in `text`, as editors count. */
function position(text: string, needle: string): string {
  const lines = text.slice(0, text.indexOf(needle)).split('\n');
  return `${lines.length}:${lines.at(-1)!.length + 1}`;
}

/** Every file of the store and the build cache: nothing may be written by a refused build. */
function written(dir: string): string[] {
  const walk = (d: string): string[] =>
    existsSync(d)
      ? readdirSync(d, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)],
        )
      : [];
  return [...walk(join(dir, '.cairn/store')), ...walk(join(dir, '.cairn/cache'))].sort();
}

const up = '../'.repeat(16);
const cases: Array<[string, (dir: string) => string, string, RegExp]> = [
  [
    'a baked file that is a symlink to a host file',
    (d) => {
      symlinkSync(join(host, 'shadow'), join(d, 'link'));
      return edit(d, './config/v1.json', './link');
    },
    './link',
    /file for \/etc\/hello\/config\.json "\.\/link" resolves to .*cairn-host-.*\/shadow, outside the project folder/,
  ],
  [
    'a baked file that is /etc/passwd through ../',
    (d) => edit(d, './config/v1.json', `${up}etc/passwd`),
    `${up}etc/passwd`,
    /resolves to \/etc\/passwd, outside the project folder/,
  ],
  [
    'a context that goes ../ out of the project',
    (d) => edit(d, 'context: ./app', `context: ${up}etc/apt`),
    `${up}etc/apt`,
    /build context ".*etc\/apt" resolves to \/etc\/apt, outside the project folder/,
  ],
  [
    'a context that is a symlinked folder outside',
    (d) => {
      rmSync(join(d, 'app'), { recursive: true });
      symlinkSync(host, join(d, 'app'));
      return readFileSync(join(d, 'cairn.yaml'), 'utf8');
    },
    './app',
    /build context "\.\/app" resolves to .*cairn-host-[^,]*, outside the project folder/,
  ],
];

describe('paths a spec names stay inside the project folder', () => {
  for (const [what, breakIt, value, message] of cases) {
    it(`Given ${what}, when validated and built, then validate points at it and build writes nothing`, () => {
      const dir = project();
      const text = breakIt(dir);
      const validate = cairn(['validate'], { cwd: dir });
      expect(validate.code).toBe(1);
      expect(validate.stderr).toMatch(message);
      expect(validate.stderr).toContain(`cairn.yaml:${position(text, value)}: error: `);
      const before = written(dir);
      const build = cairn(['build'], { cwd: dir });
      expect(build.code).toBe(1);
      expect(build.stderr).toMatch(message);
      expect(build.stderr).not.toMatch(/\n\s+at /);
      expect(written(dir)).toEqual(before);
      expect(build.stdout + build.stderr).not.toContain(SECRET);
    });
  }

  it('Given a project root named by CAIRN_PROJECT_ROOT, then a file beside the spec folder is accepted', () => {
    const dir = project();
    edit(dir, './config/v1.json', '../shared/v1.json');
    const outer = mkdtempSync(join(tmpdir(), 'cairn-root-'));
    temps.push(outer);
    cpSync(dir, join(outer, 'svc'), { recursive: true });
    cpSync(join(dir, 'config'), join(outer, 'shared'), { recursive: true });
    expect(cairn(['validate'], { cwd: join(outer, 'svc') }).code).toBe(1);
    const r = cairn(['validate'], { cwd: join(outer, 'svc'), env: { CAIRN_PROJECT_ROOT: outer } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('Given a 5 MiB cairn.yaml, then validate refuses it before parsing, with the limit', () => {
    const dir = project();
    writeFileSync(join(dir, 'cairn.yaml'), `project: p\n${'# padding\n'.repeat(520_000)}`);
    const r = cairn(['validate'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error: reading .*cairn\.yaml: it is 5,\d{3},\d{3} bytes, more than the 4,194,304 \(4 MiB\)/,
    );
    expect(r.stderr).toMatch(/\nhint: /);
  });
});
