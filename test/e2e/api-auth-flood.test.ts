/**
 * Runbook (issue 23, finding 5): a local client floods the control plane's API with 6,000 requests
 * carrying wrong tokens. The first few are answered 401, the rest 429 with Retry-After; the CLI's
 * own token keeps working through the flood; and the audit log gains one aggregated
 * `api.auth_failed` entry carrying the count — not 6,000 permanent leaves.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_AUTH_FAILURES_PER_WINDOW } from '../../src/auth/index.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';

const FLOOD = 6_000;
const CONCURRENCY = 32;
const FLOOD_TIME_LIMIT_MS = 90_000;

interface AuditEntry {
  action: string;
  detail?: Record<string, unknown>;
}

describe('a flood of unauthenticated API requests', () => {
  let ws: HelloWorkspace;
  let api: string;
  let token: string;
  const statuses = new Map<number, number>();
  let retryAfter: string | null = null;
  const validDuringFlood: number[] = [];

  const auditEntries = (): AuditEntry[] => {
    const r = ws.run(['audit', 'log', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { entries: AuditEntry[] }).entries;
  };

  beforeAll(async () => {
    ws = new HelloWorkspace(helloSpec(await freePort(), '{ strategy: bluegreen }'));
    expect(ws.run(['init']).code).toBe(0);
    const up = ws.run(['up', '--detach']);
    expect(up.code, up.stderr).toBe(0);
    api = (JSON.parse(readFileSync(join(ws.dir, '.cairn', 'api.json'), 'utf8')) as { url: string }).url;
    token = readFileSync(join(ws.dir, '.cairn', 'api-token'), 'utf8').trim();
  }, 120_000);
  afterAll(() => ws?.cleanup());

  it('Given 6,000 requests with wrong tokens, Then they are throttled, the CLI token still works, and the log gains one counted entry', async () => {
    const before = auditEntries().length;
    const dispatcher = new Agent({ connections: CONCURRENCY });
    const deadline = Date.now() + FLOOD_TIME_LIMIT_MS;
    let sent = 0;
    const worker = async () => {
      while (sent < FLOOD && Date.now() < deadline) {
        const n = sent++;
        const res = await fetch(`${api}/v1/status`, {
          headers: { authorization: `Bearer wrong-${n}` },
          dispatcher,
        } as RequestInit);
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 429) retryAfter ??= res.headers.get('retry-after');
        if (n % 1_000 === 500) {
          const ok = await fetch(`${api}/v1/status`, { headers: { authorization: `Bearer ${token}` } });
          await ok.arrayBuffer();
          validDuringFlood.push(ok.status);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await dispatcher.close();

    // Then: a handful of 401s, the rest refused with 429 and a Retry-After in seconds.
    expect(sent).toBeGreaterThanOrEqual(FLOOD);
    expect(statuses.get(401)).toBe(API_AUTH_FAILURES_PER_WINDOW);
    expect(statuses.get(429)).toBe(FLOOD - API_AUTH_FAILURES_PER_WINDOW);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    // The CLI's own token, from the same address, is never locked out.
    expect(validDuringFlood).toEqual([200, 200, 200, 200, 200, 200]);
    expect(ws.run(['status']).code).toBe(0);

    // When the control plane stops (the tally is flushed every minute and at stop).
    expect(ws.run(['down'], 120_000).code).toBe(0);

    // Then the log grew by the stop entry and at most two tallies (the flood may cross a minute).
    const entries = auditEntries();
    const added = entries.slice(before);
    const tallies = added.filter((e) => e.action === 'api.auth_failed');
    expect(added.length).toBeLessThanOrEqual(3);
    expect(tallies.length).toBeGreaterThanOrEqual(1);
    expect(tallies.length).toBeLessThanOrEqual(2);
    const counted = tallies.reduce((n, e) => n + Number(e.detail?.count ?? 0), 0);
    expect(counted).toBe(FLOOD);
    expect(tallies[0]!.detail).toMatchObject({ remote: '127.0.0.1', paths: ['/v1/status'] });
  }, 300_000);
});
