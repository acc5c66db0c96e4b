/**
 * The watch's recovery paths, which a healthy cluster seldom shows (the happy path runs against the
 * real apiserver in test/e2e/k8s-gateway-pod.test.ts): a 410 Gone lists again, a failed watch is
 * retried from the last version, and every request carries the token as it is on disk now.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigMapWatch } from './configmap-watch.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-cm-watch-'));
const cm = (rv: string) => ({ metadata: { name: 'cairn-gateway', resourceVersion: rv }, data: { v: rv } });
const event = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;

interface Seen {
  watch: boolean;
  resourceVersion: string | null;
  token: string | undefined;
}

describe('the ConfigMap watch of the gateway pod', () => {
  let server: Server;
  const seen: Seen[] = [];
  /** One scripted answer per request, in order; the last one repeats. */
  let script: Array<(res: import('node:http').ServerResponse) => void> = [];

  beforeAll(async () => {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1']
        .concat(['-subj', '/CN=apiserver', '-addext', 'subjectAltName=IP:127.0.0.1'])
        .concat(['-keyout', join(dir, 'tls.key'), '-out', join(dir, 'ca.crt')]),
      { stdio: 'ignore' },
    );
    server = createServer(
      { key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(join(dir, 'ca.crt')) },
      (req, res) => {
        const url = new URL(req.url ?? '/', 'https://x');
        expect(url.pathname).toBe('/api/v1/namespaces/hello-prod/configmaps');
        expect(url.searchParams.get('fieldSelector')).toBe('metadata.name=cairn-gateway');
        seen.push({
          watch: url.searchParams.get('watch') === '1',
          resourceVersion: url.searchParams.get('resourceVersion'),
          token: req.headers.authorization,
        });
        const answer = script.length > 1 ? script.shift()! : script[0]!;
        answer(res);
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('relists on 410 Gone, resumes from the last version after a failure, reads the token each time', async () => {
    writeFileSync(join(dir, 'token'), 'token-1\n');
    const applied: string[] = [];
    script = [
      (res) => res.end(JSON.stringify({ metadata: { resourceVersion: '10' }, items: [cm('10')] })),
      (res) => {
        writeFileSync(join(dir, 'token'), 'token-2\n');
        res.write(event('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' }));
      },
      (res) => res.end(JSON.stringify({ metadata: { resourceVersion: '20' }, items: [cm('20')] })),
      (res) =>
        res.end(event('BOOKMARK', { metadata: { resourceVersion: '25' } }) + event('MODIFIED', cm('30'))),
      (res) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ kind: 'Status', message: 'etcd is unhappy' }));
      },
      (res) => res.write(event('MODIFIED', cm('40'))),
    ];
    const logs: Record<string, unknown>[] = [];
    const watch = new ConfigMapWatch(
      {
        apiserver: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
        namespace: 'hello-prod',
        name: 'cairn-gateway',
        serviceAccountDir: dir,
      },
      { onObject: (c) => void applied.push(c.data!.v!), onDeleted: () => {}, log: (l) => logs.push(l) },
    );
    watch.start();
    const deadline = Date.now() + 10_000;
    while (applied.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    watch.stop();
    expect(applied).toEqual(['10', '20', '30', '40']);
    expect(seen.slice(0, 6).map((s) => [s.watch, s.resourceVersion])).toEqual([
      [false, null],
      [true, '10'],
      [false, null],
      [true, '20'],
      [true, '30'],
      [true, '30'],
    ]);
    expect(seen[0]!.token).toBe('Bearer token-1');
    expect(seen[2]!.token).toBe('Bearer token-2');
    expect(logs.some((l) => String(l.error).includes('the apiserver answered 500: etcd is unhappy'))).toBe(
      true,
    );
  });
});
