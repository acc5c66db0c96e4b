/** A throw-away copy of examples/hello with its own ports, and the cairn CLI run inside it. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliResult, cairn, cairnAsync, REPO_ROOT } from './cli.js';

export { freePort } from '../../src/gateway/listen-address.js';

export class HelloWorkspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'cairn-e2e-'));

  constructor(spec: string) {
    cpSync(join(REPO_ROOT, 'examples', 'hello'), this.dir, { recursive: true });
    writeFileSync(join(this.dir, 'cairn.yaml'), spec);
  }

  run(args: string[], timeoutMs = 300_000): CliResult {
    return cairn(args, { cwd: this.dir, timeoutMs });
  }

  /** Runs a command without blocking the event loop (load generators keep going). */
  runAsync(args: string[], timeoutMs = 300_000, input?: string): Promise<CliResult> {
    return cairnAsync(args, { cwd: this.dir, timeoutMs, ...(input !== undefined ? { input } : {}) });
  }

  /** Writes a variant config (version + behaviour) and points the spec at it. */
  useConfig(name: string, config: Record<string, unknown>): void {
    writeFileSync(join(this.dir, 'config', `${name}.json`), JSON.stringify(config));
    const file = join(this.dir, 'cairn.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(/\.\/config\/[\w-]+\.json/, `./config/${name}.json`),
    );
  }

  edit(from: string | RegExp, to: string): void {
    const file = join(this.dir, 'cairn.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(from, to));
  }

  cleanup(): void {
    this.run(['down'], 120_000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function helloSpec(port: number, deploy: string, engine: 'builtin' | 'haproxy' = 'builtin'): string {
  return `project: hello
services:
  hello:
    build:
      context: ./app
      include: ["**/*.js", "package.json"]
      entrypoint: ["node", "server.js"]
      files: { /etc/hello/config.json: ./config/v1.json }
    run:
      port: 8080
      replicas: 2
      health: { path: /healthz, intervalMs: 200, timeoutMs: 1000 }
      tmpfs: [/tmp]
    deploy: ${deploy}
environments:
  dev: { gateway: { listen: "127.0.0.1:${port}", engine: ${engine} } }
routes:
  - { host: "*", path: /, service: hello }
`;
}
