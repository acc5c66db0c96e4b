import { describe, expect, it } from 'vitest';
import { jsonDigest } from '../lib/index.js';
import { parseSpec } from './parse.js';
import { promotionIdentity, releaseConfig, runForEnvironment } from './release-config.js';

const SPEC = `project: p
services:
  web:
    build: { context: ./app, entrypoint: [node, server.js] }
    run: { port: 8080, secrets: [{ name: DB_PASSWORD, env: DB_PASSWORD }] }
    environments:
      prod:
        env: { UPSTREAM_URL: "https://api.example.com", LOG_LEVEL: warn }
      dev:
        env: { UPSTREAM_URL: "http://127.0.0.1:4000" }
  plain:
    build: { context: ./app, entrypoint: [node, server.js] }
    run: { port: 8081 }
environments:
  dev: { gateway: { listen: "127.0.0.1:9000" } }
  prod: { gateway: { listen: "127.0.0.1:9001" }, after: dev }
`;
const exists = (rel: string) => (rel.replace(/^\.\//, '') === 'app' ? 'dir' : undefined);
const parse = (text: string) => parseSpec(text, 'cairn.yaml', exists);
const spec = parse(SPEC).spec!;
const messages = (text: string) => parse(text).diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`);

describe('per-environment configuration', () => {
  it('gives each environment a release config of its own, with its variables sorted', () => {
    expect(releaseConfig(spec, 'web', 'prod').run.env).toEqual({
      LOG_LEVEL: 'warn',
      UPSTREAM_URL: 'https://api.example.com',
    });
    expect(Object.keys(releaseConfig(spec, 'web', 'prod').run.env as object)).toEqual([
      'LOG_LEVEL',
      'UPSTREAM_URL',
    ]);
    expect(releaseConfig(spec, 'web', 'dev').run.env).toEqual({ UPSTREAM_URL: 'http://127.0.0.1:4000' });
  });

  it('leaves a service without per-environment settings the same release in every environment', () => {
    const dev = releaseConfig(spec, 'plain', 'dev');
    expect(dev.run).not.toHaveProperty('env');
    expect(jsonDigest(dev.run)).toBe(jsonDigest(releaseConfig(spec, 'plain', 'prod').run));
  });

  it('carries a release into another environment with only the variables changed', () => {
    const dev = releaseConfig(spec, 'web', 'dev').run;
    const prod = runForEnvironment(dev, spec, 'web', 'prod');
    expect(prod).toEqual(releaseConfig(spec, 'web', 'prod').run);
    expect(jsonDigest(promotionIdentity(prod))).toBe(jsonDigest(promotionIdentity(dev)));
    expect(runForEnvironment(dev, spec, 'plain', 'prod')).not.toHaveProperty('env');
  });

  it('reports an unknown environment, cairn-owned and secret variables at their lines', () => {
    const bad = SPEC.replace(
      '      dev:\n        env: { UPSTREAM_URL: "http://127.0.0.1:4000" }',
      '      dve:\n        env: { PORT: "1", DB_PASSWORD: x, STRIPE_KEY_TOKEN: abc }',
    );
    expect(messages(bad)).toEqual([
      '9:7 there is no environment "dve" (did you mean "dev"?)',
      '10:16 PORT is set by cairn itself',
      '10:27 DB_PASSWORD is already given a secret by run.secrets',
      expect.stringMatching(/^10:61 environments\.dve\.env\.STRIPE_KEY_TOKEN looks like a secret/),
    ]);
  });
});

describe('per-environment configuration files', () => {
  const FILES = SPEC.replace(
    '        env: { UPSTREAM_URL: "http://127.0.0.1:4000" }',
    '        env: { UPSTREAM_URL: "http://127.0.0.1:4000" }\n        files: { /etc/app/config.json: ./config/dev.json }',
  );
  const kinds = (rel: string) =>
    rel.replace(/^\.\//, '') === 'app' ? 'dir' : rel.startsWith('./config/') ? 'file' : undefined;
  const check = (text: string, bytes = 100) =>
    parseSpec(
      text,
      'cairn.yaml',
      kinds,
      () => undefined,
      () => bytes,
    ).diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`);

  it('makes the file digests part of the release, and not of what promotion compares', () => {
    const files = { '/etc/app/config.json': 'sha256:aa' };
    const dev = releaseConfig(spec, 'web', 'dev', files).run;
    expect(dev.files).toEqual(files);
    expect(releaseConfig(spec, 'web', 'dev').run).not.toHaveProperty('files');
    const prod = runForEnvironment(dev, spec, 'web', 'prod', { '/etc/app/config.json': 'sha256:bb' });
    expect(prod.files).toEqual({ '/etc/app/config.json': 'sha256:bb' });
    expect(jsonDigest(prod)).not.toBe(jsonDigest(runForEnvironment(dev, spec, 'web', 'prod', files)));
    expect(jsonDigest(promotionIdentity(prod))).toBe(jsonDigest(promotionIdentity(dev)));
    expect(runForEnvironment(dev, spec, 'web', 'prod')).not.toHaveProperty('files');
  });

  it('accepts a project file at a free absolute path', () => {
    expect(check(FILES)).toEqual([]);
  });

  it('reports a missing file, a file over 1 MiB, and a path another mount claims, at their lines', () => {
    expect(check(FILES.replace('./config/dev.json', './nope.json'))).toEqual([
      '11:40 file "./nope.json" for /etc/app/config.json does not exist',
    ]);
    expect(check(FILES, 2 * 1024 * 1024)[0]).toMatch(
      /^11:40 file "\.\/config\/dev\.json" for \/etc\/app\/config\.json is 2,097,152 bytes, more than the 1 MiB/,
    );
    const clash = FILES.replace('/etc/app/config.json', '/run/secrets/x.json')
      .replace('run: { port: 8080,', 'run: { port: 8080, tmpfs: [/data],')
      .replace(
        './config/dev.json }',
        './config/dev.json, /data/c.json: ./config/c.json, /app: ./config/a.json }',
      );
    expect(check(clash)).toEqual([
      '11:18 configuration file /run/secrets/x.json collides with /run/secrets, which cairn mounts itself; mount it at another path',
      '11:58 configuration file /data/c.json collides with tmpfs /data; mount it at another path',
      "11:89 configuration file /app collides with the app's folder /app (build.workdir); mount it at another path",
    ]);
  });
});
