/**
 * Runbook: the dashboard in a real Chromium (Debian's, driven by playwright-core). An operator
 * logs in with a token from `cairn token create`, watches a canary progress — the weight chart
 * gains samples and the highlighted step moves — tries to pause on a view that went stale (a
 * conflict, nothing done), rolls back under load without a failed request, and finds the rollback
 * in the audit page with its inclusion proof verified in the browser. A viewer sees the buttons
 * disabled and the API refuses it (403); no session gets 401 and no data; every page carries the
 * CSP. The page reconnects by itself after the control plane is killed and restarted, and a
 * revoked token sends it back to the login. axe-core finds no WCAG 2 A/AA violation on any page,
 * and a confirmation opens and closes from the keyboard. Regenerates the screenshots under docs/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Load } from '../../scripts/load.mjs';
import { REPO_ROOT } from '../helpers/cli.js';
import { freePort, HelloWorkspace, helloSpec } from '../helpers/workspace.js';
import { appendByte, runcUsable } from './drift-helpers.js';

const STEP_MS = 300_000;
const DEPLOY = `{ strategy: canary, steps: [{ weight: 20, pauseMs: 6s }, { weight: 50, pauseMs: 60s }, { analysis: {} }, { weight: 100 }], analysis: { maxErrorRate: 0.05, maxP99Ms: 5000, minRequests: 20 }, scaleDownDelayMs: 10m }`;

function chromiumPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const CHROMIUM = chromiumPath();

interface Status {
  services: Array<{
    release?: string;
    weights: Array<{ release: string; weight: number }>;
    rollout?: { id: string; phase: string; step: number };
  }>;
}

describe.runIf(CHROMIUM)('the dashboard in Chromium', () => {
  let ws: HelloWorkspace;
  let browser: Browser;
  let ui: string;
  let uiPort: number;
  let api: string;
  let load: Load;
  const tokens: Record<string, string> = {};
  const releases: Record<string, string> = {};
  let keyId = '';

  const cli = async (args: string[]) => {
    const r = await ws.runAsync(args, STEP_MS);
    expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const status = async () =>
    (JSON.parse(await cli(['status', '--env', 'dev', '-o', 'json'])) as Status).services[0]!;
  const until = async <T>(
    what: string,
    probe: () => Promise<T | undefined>,
    timeoutMs = 120_000,
  ): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  };
  const build = async (name: string) => {
    ws.useConfig(name, { version: name });
    await cli(['build', 'hello']);
  };
  const login = async (token: string, viewport = { width: 1280, height: 800 }): Promise<Page> => {
    const page = await (await browser.newContext({ viewport })).newPage();
    await page.goto(ui);
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Environments' }).waitFor();
    return page;
  };
  const apiInfo = () =>
    JSON.parse(readFileSync(join(ws.dir, '.cairn', 'api.json'), 'utf8')) as {
      url: string;
      pid: number;
      ui: string;
    };

  beforeAll(async () => {
    const port = await freePort();
    uiPort = await freePort();
    const prodPort = await freePort();
    ws = new HelloWorkspace(
      `${helloSpec(port, DEPLOY).replace(
        /( {2}dev: .*\n)/,
        `$1  prod: { after: dev, gateway: { listen: "127.0.0.1:${prodPort}" } }\n`,
      )}identity: { trustDomain: dashboard.test, hopPort: ${await freePort()} }\n`,
    );
    await cli(['init']);
    keyId = /key pair ([0-9a-f]{12})/.exec(await cli(['keygen']))![1]!;
    await build('v1');
    await cli(['up', '--detach', '--ui', `127.0.0.1:${uiPort}`]);
    await cli(['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '180s']);
    releases.v1 = (await status()).release!;
    ui = apiInfo().ui;
    api = apiInfo().url;
    expect(ui).toBe(`http://127.0.0.1:${uiPort}`);
    tokens.olga = (await cli(['token', 'create', '--name', 'olga', '--role', 'operator'])).trim();
    tokens.vera = (await cli(['token', 'create', '--name', 'vera', '--role', 'viewer'])).trim();
    browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    load = new Load(`http://127.0.0.1:${port}/`, { concurrency: 4 });
  }, STEP_MS);

  afterAll(async () => {
    await load?.stop();
    await browser?.close();
    ws?.cleanup();
  }, STEP_MS);

  it('Without a session, Then the API answers 401 with no data, and every page carries a strict CSP', async () => {
    expect(await cli(['status'])).toContain(`dashboard: ${ui}`);
    const res = await fetch(`${ui}/v1/status`);
    expect(res.status).toBe(401);
    const body = await res.text();
    expect(body).not.toContain('hello');
    expect(body).not.toContain(releases.v1);
    const page = await fetch(`${ui}/`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const login = await fetch(`${ui}/ui/login`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ token: tokens.olga }),
    });
    expect(login.status).toBe(403);
    expect(login.headers.get('set-cookie')).toBeNull();
  });

  it('Given an operator, Then every page has no WCAG 2 A/AA violation (axe-core) and actions work from the keyboard', async () => {
    const page = await login(tokens.olga!);
    const axe = readFileSync(join(REPO_ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
    for (const hash of ['#/', '#/rollout/dev/hello', '#/history/dev/hello', '#/instances', '#/audit']) {
      await page.goto(`${ui}/${hash}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      await page.waitForTimeout(500);
      await page.evaluate(axe);
      const violations = await page.evaluate(
        'axe.run(document, { runOnly: ["wcag2a", "wcag2aa"] }).then((r) => r.violations.map((v) => v.id + ": " + v.nodes.map((n) => n.target).join(" ")))',
      );
      expect(violations, hash).toEqual([]);
    }
    await page.goto(`${ui}/#/history/dev/hello`);
    await expect.poll(() => page.locator('tbody tr').first().textContent()).toContain(`✓ key ${keyId}`);
    await page.goto(`${ui}/#/`);
    const promote = page.getByRole('button', { name: 'Promote from dev hello in prod' });
    await promote.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.textContent()).toContain('Promote hello from dev to prod');
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect((await cli(['status', '--env', 'prod', '-o', 'json'])).includes(releases.v1!)).toBe(false);
  });

  it(
    'Given an operator, When a canary runs, Then charts and the step highlight move live; a stale pause is refused; the rollback from the UI loses no request and is proven in the audit page',
    async () => {
      const page = await login(tokens.olga!);
      const consoleErrors: string[] = [];
      page.on('pageerror', (e) => consoleErrors.push(String(e)));
      await build('v2');
      load.start(5 * 60_000);
      const loadFrom = Date.now();
      await cli(['deploy', 'hello', '--env', 'dev', '--image', 'hello']);
      await page.goto(`${ui}/#/rollout/dev/hello`);
      const current = page.locator('[data-testid="steps"] li[aria-current="step"]');
      const weights = page.getByTestId('chart-weight');
      await expect.poll(() => current.textContent(), { timeout: 120_000 }).toContain('weight 20%');
      const points1 = Number(await weights.getAttribute('data-points'));
      await expect.poll(() => current.textContent(), { timeout: 60_000 }).toContain('weight 50%');
      await expect
        .poll(async () => Number(await weights.getAttribute('data-points')), { timeout: 10_000 })
        .toBeGreaterThan(points1 + 2);
      await expect.poll(() => weights.getAttribute('data-latest'), { timeout: 10_000 }).toMatch(/: 50 %/);
      releases.v2 = (await status()).rollout
        ? (await status()).weights.find((w) => w.weight === 50)!.release
        : '';
      await page.waitForTimeout(3000);
      await page.screenshot({ path: join(REPO_ROOT, 'docs', 'dashboard-rollout.png') });
      await page.goto(`${ui}/#/`);
      await expect.poll(() => page.getByTestId('row-prod-hello').textContent()).toContain('Promote from dev');
      await page.screenshot({ path: join(REPO_ROOT, 'docs', 'dashboard-overview.png') });
      await page.goto(`${ui}/#/rollout/dev/hello`);

      // A stale view: the pause dialog is open while someone pauses from the CLI.
      await page.getByRole('button', { name: 'Pause hello in dev' }).click();
      const dialog = page.getByRole('dialog');
      await expect.poll(() => dialog.textContent()).toContain('Pause the canary');
      await cli(['pause', 'hello', '--env', 'dev']);
      await dialog.getByRole('button', { name: 'Confirm: pause' }).click();
      await expect
        .poll(() => dialog.getByRole('alert').textContent())
        .toContain('changed since this view was loaded');
      expect(await dialog.getByRole('alert').textContent()).toContain('nothing was done');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await cli(['resume', 'hello', '--env', 'dev']);

      // Roll back from the UI, under load.
      await page.getByRole('button', { name: 'Roll back hello in dev' }).click();
      await expect.poll(() => dialog.textContent()).toContain('abort the canary');
      expect(await dialog.textContent()).toContain(`all traffic returns to ${releases.v1}`);
      await dialog.getByRole('button', { name: 'Confirm: roll back' }).click();
      await expect
        .poll(() => dialog.getByRole('status').textContent(), { timeout: 30_000 })
        .toContain('Done');
      await dialog.getByRole('button', { name: 'Close' }).click();
      await until('traffic back on v1', async () => {
        const s = await status();
        return s.weights.length === 1 && s.weights[0]!.release === releases.v1 ? s : undefined;
      });
      await expect
        .poll(() => page.getByTestId('phase').textContent(), { timeout: 30_000 })
        .toMatch(/aborted/);
      await sleep(1500);
      await load.stop();
      const summary = load.summary(loadFrom);
      expect(summary.requests).toBeGreaterThan(200);
      expect(summary.failures, JSON.stringify(summary)).toBe(0);

      // Each instance shows its identity: the SPIFFE ID of its SVID, its serial and expiry.
      await page.goto(`${ui}/#/instances`);
      await expect
        .poll(() => page.locator('tbody').first().textContent(), { timeout: 15_000 })
        .toMatch(/spiffe:\/\/dashboard\.test\/dev\/hello.*serial [0-9a-f]+.*expires in \d+m/s);

      // The audit page: the rollback names olga, and its proof checks out in the browser.
      await page.getByRole('link', { name: 'Audit log' }).click();
      await page.getByLabel('Actor').fill('olga@dashboard');
      await page.getByLabel('Actor').press('Enter');
      const row = page.locator('tr[data-action="deploy.command.abort"]').first();
      await row.waitFor({ timeout: 30_000 });
      await row.getByRole('button', { name: /Verify the inclusion proof/ }).click();
      await expect
        .poll(() => row.getByRole('status').textContent(), { timeout: 15_000 })
        .toMatch(/✓ verified: entry \d+ is in the log/);
      await page.getByLabel('Actor').fill('');
      await page.getByLabel('Actor').press('Enter');
      // One click shows only identity events: each instance's SVID issuance, and nothing else.
      await page.getByRole('button', { name: 'Identity', exact: true }).click();
      // The unfiltered list already holds identity rows, so wait for the filtered list itself:
      // more than one row, and every row an identity event.
      const shownActions = () =>
        page
          .locator('tbody tr[data-action]')
          .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
      await expect
        .poll(
          async () => {
            const actions = await shownActions();
            return actions.length > 1 && actions.every((a) => a?.startsWith('identity.'));
          },
          { timeout: 15_000 },
        )
        .toBe(true);
      expect(await shownActions()).toContain('identity.svid.issue');
      await page.getByRole('button', { name: 'All', exact: true }).click();
      await page.waitForTimeout(500);
      await page.screenshot({ path: join(REPO_ROOT, 'docs', 'dashboard-audit.png') });
      expect(consoleErrors).toEqual([]);
      const audit = await cli(['audit', 'log']);
      expect(audit).toMatch(/olga@dashboard deploy\.command\.abort/);
      expect(audit).toMatch(/olga@dashboard ui\.login/);
    },
    STEP_MS,
  );

  it('Given a viewer during a canary, Then Roll back and Pause are disabled in the page and refused by the API (403), also on a phone-sized screen', async () => {
    await cli(['deploy', 'hello', '--env', 'dev', '--image', 'hello']);
    const page = await login(tokens.vera!, { width: 390, height: 844 });
    const rollback = page.getByRole('button', { name: 'Roll back hello in dev' });
    await rollback.waitFor();
    await page.goto(`${ui}/#/rollout/dev/hello`);
    const pause = page.getByRole('button', { name: 'Pause hello in dev' });
    await pause.waitFor();
    expect(await pause.isDisabled()).toBe(true);
    await page.goto(`${ui}/#/`);
    await rollback.waitFor();
    expect(await rollback.isDisabled()).toBe(true);
    expect(await rollback.getAttribute('title')).toContain('Viewers cannot act');
    const fromPage = await page.evaluate(async () => {
      const session = (await (await fetch('/ui/session')).json()) as { csrf: string };
      const res = await fetch('/v1/rollback', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf },
        body: JSON.stringify({ service: 'hello', env: 'dev' }),
      });
      return { status: res.status, body: await res.text() };
    });
    expect(fromPage.status).toBe(403);
    expect(fromPage.body).toContain('may only read');
    const bearer = await fetch(`${api}/v1/rollback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.vera}`, 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'hello', env: 'dev' }),
    });
    expect(bearer.status).toBe(403);
    // The audit log pages backwards: newest first, then older than the last index seen.
    const page1 = (await (
      await fetch(`${api}/v1/audit?limit=3`, { headers: { authorization: `Bearer ${tokens.vera}` } })
    ).json()) as { entries: Array<{ index: number }>; more: boolean };
    expect(page1.more).toBe(true);
    const first = page1.entries.map((e) => e.index);
    expect(first).toEqual([first[0]!, first[0]! - 1, first[0]! - 2]);
    const page2 = (await (
      await fetch(`${api}/v1/audit?limit=3&before=${first[2]}`, {
        headers: { authorization: `Bearer ${tokens.vera}` },
      })
    ).json()) as { entries: Array<{ index: number }> };
    expect(page2.entries.map((e) => e.index)).toEqual([first[2]! - 1, first[2]! - 2, first[2]! - 3]);
    const scrollWidth = Number(await page.evaluate('document.documentElement.scrollWidth'));
    expect(scrollWidth).toBeLessThanOrEqual(390);
    expect((await status()).rollout?.phase).toBe('progressing');
    await cli(['abort', 'hello', '--env', 'dev']);
  });

  it(
    'When the control plane is killed and restarted, Then the page reconnects by itself; When the token is revoked, Then it is back at the login',
    async () => {
      const page = await login(tokens.olga!);
      const connection = page.getByTestId('connection');
      await expect.poll(() => connection.textContent()).toContain('live');
      process.kill(apiInfo().pid, 'SIGKILL');
      await expect.poll(() => connection.textContent(), { timeout: 15_000 }).toContain('reconnecting');
      await cli(['up', '--detach', '--ui', `127.0.0.1:${uiPort}`]);
      await expect.poll(() => connection.textContent(), { timeout: 30_000 }).toContain('live');
      expect(await page.getByRole('heading', { name: 'Environments' }).isVisible()).toBe(true);
      await page.goto(`${ui}/#/audit`);
      await page.getByRole('heading', { name: 'Audit log' }).waitFor();
      // Revoked while the page only listens: the stream ends, and the page is back at the login.
      await cli(['token', 'revoke', 'olga']);
      await expect
        .poll(() => page.getByRole('status').first().textContent(), { timeout: 15_000 })
        .toContain('session ended');
      expect(page.url()).toContain('#/audit');
    },
    STEP_MS,
  );

  it.runIf(runcUsable)(
    'When a file of the serving bundle is changed, Then the instances page links to what drift kept, and the forensics page names the file',
    async () => {
      const bundles = join(ws.dir, '.cairn', 'bundles');
      for (const hex of readdirSync(bundles).filter((n) => /^[0-9a-f]{64}$/.test(n)))
        appendByte(join(bundles, hex, 'rootfs', 'app', 'server.js'));
      const forensics = join(ws.dir, '.cairn', 'forensics');
      await until('forensics kept', async () =>
        existsSync(forensics) && readdirSync(forensics).length > 0 ? true : undefined,
      );
      const page = await login(readFileSync(join(ws.dir, '.cairn', 'api-token'), 'utf8').trim());
      await page.goto(`${ui}/#/instances`);
      const link = page.getByRole('link', { name: /^forensics / }).first();
      await link.waitFor({ timeout: 30_000 });
      await link.click();
      await expect
        .poll(() => page.getByTestId('findings').textContent(), { timeout: 15_000 })
        .toContain('/app/server.js');
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toMatch(/^Forensics of ins-/);
    },
    STEP_MS,
  );

  it('Given five wrong tokens in a row, Then the next login is refused for a while (429) and the failures are audited', async () => {
    const attempt = () =>
      fetch(`${ui}/ui/login`, {
        method: 'POST',
        headers: { origin: ui, 'content-type': 'application/json' },
        body: JSON.stringify({ token: 'cairn_wrong' }),
      });
    for (let i = 0; i < 5; i++) expect((await attempt()).status).toBe(401);
    const refused = await attempt();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const audit = await cli(['audit', 'log']);
    expect(audit.match(/ui\.login_failed/g)?.length).toBe(5);
  });
});
