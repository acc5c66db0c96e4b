/**
 * Test fixtures: real images built by the artifact builder (`host:node` base: this machine's node,
 * its libraries, a passwd entry for uid 65532, no shell) into a temporary OCI layout store — either
 * from an existing cairn.yaml (examples/hello) or from a one-file probe service. Tests and benches.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, type ImageStore, openImageStore } from '../../artifact/index.js';
import { loadSpec } from '../../spec/index.js';
import { PROBE_CONFIG_FILE } from './probe-app.js';

export interface FixtureImage {
  storeDir: string;
  digest: string;
  source: ImageStore;
}

/** Builds `service` of the spec at `specFile` into a store at `storeDir`. */
export async function buildServiceImage(
  specFile: string,
  service: string,
  storeDir: string,
): Promise<FixtureImage> {
  const store = openImageStore(storeDir);
  const built = await buildImage(loadSpec(specFile), service, { store });
  return { storeDir, digest: built.digest, source: store };
}

/** Copies examples/hello into `workDir` and builds its image there. */
export async function buildHelloImage(repoRoot: string, workDir: string): Promise<FixtureImage> {
  const project = join(workDir, 'hello');
  cpSync(join(repoRoot, 'examples/hello'), project, { recursive: true });
  return buildServiceImage(join(project, 'cairn.yaml'), 'hello', join(workDir, 'store'));
}

/** Builds a one-file node service (`server.js` from `source`) with env from `env`. */
export async function buildProbeImage(
  workDir: string,
  source: string,
  env: Record<string, string> = {},
): Promise<FixtureImage> {
  const project = join(workDir, 'probe');
  mkdirSync(join(project, 'app'), { recursive: true });
  writeFileSync(join(project, 'app/server.js'), source);
  writeFileSync(join(project, 'app/package.json'), '{"name":"probe","version":"1.0.0","private":true}\n');
  writeFileSync(join(project, 'probe-config.json'), '{}\n');
  const envYaml = Object.entries(env)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join(', ');
  writeFileSync(
    join(project, 'cairn.yaml'),
    [
      'project: probe',
      'services:',
      '  probe:',
      '    build: { context: ./app, base: "host:node", entrypoint: [node, server.js], env: {' +
        envYaml +
        '} }',
      '    run: { port: 8080, tmpfs: [/tmp], volumes: [{ name: data, path: /app/data }] }',
      `    environments: { dev: { files: { ${PROBE_CONFIG_FILE}: ./probe-config.json } } }`,
      'environments:',
      '  dev: { gateway: { listen: "127.0.0.1:18080" } }',
      'routes: [{ host: "*", path: /, service: probe }]',
      '',
    ].join('\n'),
  );
  return buildServiceImage(join(project, 'cairn.yaml'), 'probe', join(workDir, 'store'));
}
