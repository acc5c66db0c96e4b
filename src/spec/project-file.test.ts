import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkSpecFile } from './load.js';
import { MAX_POLICY_BYTES, MAX_SPEC_BYTES, projectRoot, readContainedFile } from './project-file.js';

let project: string;
let outside: string;
beforeEach(() => {
  project = realpathSync(mkdtempSync(join(tmpdir(), 'cairn-proj-')));
  outside = realpathSync(mkdtempSync(join(tmpdir(), 'cairn-host-')));
  writeFileSync(join(outside, 'shadow'), 'root:$6$secret:19000:0:99999:7:::\n');
  mkdirSync(join(outside, 'etc'));
  mkdirSync(join(project, 'app'));
  writeFileSync(join(project, 'app/server.js'), '');
});
afterEach(() => {
  rmSync(project, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const spec = (build: string, env = '{ gateway: { listen: "127.0.0.1:8080" } }') =>
  `project: p
services:
  web:
    build:
${build}
      entrypoint: [node, server.js]
    run: { port: 8080 }
environments:
  dev: ${env}
`;

function validate(text: string) {
  writeFileSync(join(project, 'cairn.yaml'), text);
  return checkSpecFile(join(project, 'cairn.yaml'));
}

describe('checkSpecFile: paths leaving the project folder', () => {
  it('reports a baked file that is a symlink to a host file at its line and column', () => {
    symlinkSync(join(outside, 'shadow'), join(project, 'link'));
    const checked = validate(spec('      context: ./app\n      files: { /etc/hello/config.json: ./link }'));
    expect(checked.spec).toBeUndefined();
    expect(checked.diagnostics).toEqual([
      expect.objectContaining({
        line: 6,
        column: 40,
        message: expect.stringContaining(
          `resolves to ${join(outside, 'shadow')}, outside the project folder`,
        ),
      }),
    ]);
  });

  it('reports ../ escapes of files and context, and /etc/passwd named through them', () => {
    const up = '../'.repeat(12);
    const checked = validate(spec(`      context: ${up}etc\n      files: { /etc/p: ${up}etc/passwd }`));
    expect(checked.diagnostics.map((d) => [d.line, d.message.split(',')[0]])).toEqual([
      [5, `build context "${up}etc" resolves to /etc`],
      [6, `file for /etc/p "${up}etc/passwd" resolves to /etc/passwd`],
    ]);
  });

  it('reports a context that is a symlinked folder outside, and policy and key files through it', () => {
    symlinkSync(outside, join(project, 'shared'));
    writeFileSync(join(outside, 'etc/policy.yaml'), 'kind: Policy');
    const env =
      '{ gateway: { listen: "127.0.0.1:8080" }, policies: [shared/etc/policy.yaml], trust: { keys: [shared/k.pem] } }';
    const checked = validate(spec('      context: ./shared/etc', env));
    expect(checked.diagnostics.map((d) => d.path)).toEqual([
      'services.web.build.context',
      'environments.dev.policies.0',
      'environments.dev.trust.keys.0',
      'environments.dev.trust.keys.0',
    ]);
    expect(checked.diagnostics.filter((d) => /outside the project folder/.test(d.message))).toHaveLength(3);
  });

  it('accepts all of it inside a root named by CAIRN_PROJECT_ROOT that holds both', () => {
    const up = join(project, 'svc');
    mkdirSync(up);
    writeFileSync(join(up, 'cairn.yaml'), spec('      context: ../app'));
    expect(checkSpecFile(join(up, 'cairn.yaml')).spec).toBeUndefined();
    process.env.CAIRN_PROJECT_ROOT = project;
    try {
      expect(checkSpecFile(join(up, 'cairn.yaml')).diagnostics).toEqual([]);
      expect(projectRoot(up)).toBe(project);
      expect(() => projectRoot(outside)).toThrow(/does not contain/);
    } finally {
      delete process.env.CAIRN_PROJECT_ROOT;
    }
  });
});

describe('checkSpecFile: policy files', () => {
  it('reports a policy file larger than MAX_POLICY_BYTES at the file, without compiling it', () => {
    writeFileSync(join(project, 'big.yaml'), `# ${'x'.repeat(MAX_POLICY_BYTES)}\n`);
    const env = '{ gateway: { listen: "127.0.0.1:8080" }, policies: [big.yaml] }';
    const checked = validate(spec('      context: ./app', env));
    expect(checked.spec).toBeUndefined();
    expect(checked.diagnostics).toEqual([
      expect.objectContaining({
        file: join(project, 'big.yaml'),
        line: 1,
        message: expect.stringMatching(/it is 262,147 bytes, more than the 262,144 \(256 KiB\)/),
      }),
    ]);
  });
});

describe('readContainedFile', () => {
  it('refuses a symlink out, at the moment of reading', () => {
    symlinkSync(join(outside, 'shadow'), join(project, 'link'));
    expect(() => readContainedFile(project, join(project, 'link'), { shownAs: 'link' })).toThrow(
      /leads to .*shadow, outside the project folder/,
    );
  });

  it('refuses a file larger than the cap before parsing it', () => {
    writeFileSync(join(project, 'cairn.yaml'), Buffer.alloc(MAX_SPEC_BYTES + 1, 0x20));
    expect(() => checkSpecFile(join(project, 'cairn.yaml'))).toThrow(
      /it is 4,194,305 bytes, more than the 4,194,304 \(4 MiB\) cairn reads/,
    );
  });
});
