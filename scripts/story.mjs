#!/usr/bin/env node
// The main job: the whole cairn story on this machine's embedded runtime, in a temp workspace.
// init → build hello v1 → cairn up (+ the dashboard, watched over its event stream) → deploy v1 → steady load → canary to v2 (passes analysis) →
// canary to the bad v3 (fails analysis, rolled back automatically) → manual rollback drill →
// summary per phase. It stops everything it started, even when a step fails.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Load } from './load.mjs';
import { createStory, ROOT, say, sleep } from './story-lib.mjs';

const KEEP = process.env.CAIRN_STORY_KEEP === '1';
const work = mkdtempSync(join(tmpdir(), 'cairn-story-'));
const story = createStory(work);
const { cairn, heading, phase, useVariant } = story;
let load;
let dashboard;
let upStarted = false;

/**
 * A dashboard left open: logs in with a token as the browser does (a session cookie) and reads
 * the event stream, counting snapshots and the canary weights they carry.
 */
async function watchDashboard(ui, token) {
  const login = await fetch(`${ui}/ui/login`, {
    method: 'POST',
    headers: { origin: ui, 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  if (!login.ok) throw new Error(`dashboard login answered ${login.status}`);
  const cookie = login.headers.get('set-cookie').split(';')[0];
  const seen = { snapshots: 0, weights: [] };
  let buffer = '';
  const req = request(`${ui}/v1/events`, { headers: { cookie } }, (res) => {
    res.on('data', (chunk) => {
      buffer += chunk;
      const messages = buffer.split('\n\n');
      buffer = messages.pop();
      for (const m of messages) {
        const data = m.split('\n').find((l) => l.startsWith('data: '));
        if (!data || !m.includes('event: snapshot')) continue;
        seen.snapshots++;
        for (const sample of Object.values(JSON.parse(data.slice(6)).samples ?? {})) {
          const split = Object.values(sample.releases)
            .map((r) => r.weight)
            .join('+');
          if (seen.weights.at(-1) !== split) seen.weights.push(split);
        }
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return { seen, stop: () => req.destroy() };
}

async function main() {
  say(`cairn story — a full deploy on this machine's embedded runtime\nworkspace: ${work}`);
  cpSync(join(ROOT, 'examples', 'hello'), work, { recursive: true });
  // The example's gateway ports may be taken on a shared machine: use free ones for the story.
  const spec = join(work, 'cairn.yaml');
  writeFileSync(
    spec,
    readFileSync(spec, 'utf8')
      .replace('127.0.0.1:8080', '127.0.0.1:18080')
      .replace('127.0.0.1:8443', '127.0.0.1:18443')
      // prod's gates: a vulnerability scan and the example's CEL policies
      .replace(
        'prod: { after: dev, approval: true,',
        'prod: { after: dev, approval: true, maxSeverity: high, policies: [policies/release.yaml],',
      ),
  );

  heading('Check the spec and see what would change');
  await cairn(['validate']);
  await cairn(['plan', '--env', 'dev']);

  heading(
    'Create the workspace, a signing key and the API token secret; build hello v1 (reproducible OCI image, signed)',
  );
  await cairn(['init']);
  await cairn(['keygen'], { allowFail: true });
  // hello lists API_TOKEN under run.secrets: stored encrypted, injected at start, never printed.
  await cairn(['secret', 'set', 'API_TOKEN', '--generate']);
  await cairn(['build', 'hello']);
  await cairn(['verify', 'hello', '--key', '.cairn/keys/cairn.pub'], { allowFail: true });

  heading('Start the control plane (API, gateway, supervision) in the background');
  await cairn(['up', '--detach']);
  upStarted = true;

  heading('Open the dashboard: per-user tokens (shown once, stored hashed); a viewer may look, not act');
  const ui = JSON.parse(readFileSync(join(work, '.cairn', 'api.json'), 'utf8')).ui;
  const manager = (
    await cairn(['token', 'create', '--name', 'release-manager', '--role', 'operator'], { quiet: true })
  ).stdout.trim();
  const auditor = (
    await cairn(['token', 'create', '--name', 'auditor', '--role', 'viewer'], { quiet: true })
  ).stdout.trim();
  say('    (tokens not shown: a user would keep them)');
  await cairn(['token', 'list']);
  dashboard = await watchDashboard(ui, manager);
  const api = JSON.parse(readFileSync(join(work, '.cairn', 'api.json'), 'utf8')).url;
  const refused = await fetch(`${api}/v1/rollback`, {
    method: 'POST',
    headers: { authorization: `Bearer ${auditor}`, 'content-type': 'application/json' },
    body: JSON.stringify({ service: 'hello', env: 'dev' }),
  });
  say(`  dashboard at ${ui} (release-manager logged in, watching the event stream)`);
  say(
    `  the auditor's token asking for a rollback: HTTP ${refused.status} ${(await refused.json()).error.message}`,
  );

  heading('Deploy v1 to dev (first release: started in full, health-checked, then routed)');
  await cairn(['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '120s']);

  load = new Load('http://127.0.0.1:18080/', { concurrency: 8 }).start(10 * 60_000);
  story.load = load;
  heading('Steady load on v1');
  await phase('steady v1', () => sleep(3000));

  heading('Canary to v2 under load: 20% → analysis → 100%');
  useVariant('v2');
  await cairn(['build', 'hello'], { quiet: true });
  await phase('canary v1 → v2', async () => {
    const before = dashboard.seen.snapshots;
    dashboard.seen.weights = [];
    await cairn(['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '180s']);
    await sleep(1500); // the next snapshot, at most a second away, shows where traffic ended up
    say(
      `  the dashboard got ${dashboard.seen.snapshots - before} live snapshots; traffic split per release (%) went ${dashboard.seen.weights.join(' → ')}`,
    );
  });

  heading('Canary to the bad v3 (20% errors, 400 ms): analysis fails, traffic goes back automatically');
  useVariant('v3');
  await cairn(['build', 'hello'], { quiet: true });
  await phase('canary v2 → v3 (bad)', async () => {
    const r = await cairn(
      ['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '180s'],
      { allowFail: true },
    );
    if (r.code === 0) throw new Error('the bad release was promoted: the analysis did not catch it');
  });

  heading('Rollback drill: back to v1, still warm, while the load runs');
  await phase('rollback drill v2 → v1', async () => {
    const { stdout } = await cairn(['rollback', 'hello', '--env', 'dev', '--wait', '--output', 'json']);
    const { deployment } = JSON.parse(stdout);
    await sleep(1000);
    // From the command's arrival at the control plane to the first request served by v1 that was
    // sent after it (so its whole trip counts), and to the routing flip itself.
    const arrived = Date.parse(deployment.createdAt);
    const first = load.samples.find((x) => x.at - x.ms >= arrived && x.version === 'v1' && x.status === 200);
    return { switchMs: first ? Math.round(first.at - arrived) : 'n/a', flipMs: deployment.durationMs ?? '' };
  });
  await phase('steady after rollback', () => sleep(2000));

  heading('Rotate the API token: a new release of the same v1 image, rolled out by canary under load');
  useVariant('v1', 'rebuilt, it is the same v1 digest: builds are reproducible');
  await cairn(['build', 'hello'], { quiet: true });
  await cairn(['secret', 'rotate', 'API_TOKEN', '--generate']);
  await cairn(['plan', '--env', 'dev']);
  await phase('token rotation (v1)', async () => {
    await cairn(['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '180s']);
  });

  heading("Promote v1 to prod through prod's gates: predecessor, approval, OSV scan, CEL policies");
  await cairn(['vuln', 'db', 'import', join(ROOT, 'test', 'fixtures', 'osv')]);
  await cairn(['scan', 'hello', '--env', 'prod']);
  await phase('promote v1 to prod', async () => {
    await cairn([
      'promote',
      'hello',
      '--from',
      'dev',
      '--to',
      'prod',
      '--approve',
      '--wait',
      '--timeout',
      '120s',
    ]);
  });

  heading("Same image, each environment's own setting: prod's GREETING comes from cairn.yaml, not the image");
  for (const [env, port] of [
    ['dev', 18080],
    ['prod', 18443],
  ]) {
    const answer = await (await fetch(`http://127.0.0.1:${port}/`)).json();
    const { deployments, releases } = JSON.parse(
      (await cairn(['history', 'hello', '--env', env, '--output', 'json'], { quiet: true })).stdout,
    );
    const release = releases[deployments.at(-1).to];
    say(
      `  ${env}: ${release.id}, image ${release.imageDigest.slice(0, 19)}…, answers ${JSON.stringify(answer)}`,
    );
  }

  heading('Where things stand, and the audit trail');
  await cairn(['status', '--env', 'dev']);
  await cairn(['history', 'hello', '--env', 'dev']);
  await cairn(['audit', 'verify'], { allowFail: true });
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  say(`\nstory stopped: ${error.message}`);
} finally {
  await load?.stop();
  dashboard?.stop();
  if (story.phases.length) story.summary();
  if (upStarted) await cairn(['down'], { allowFail: true });
  if (KEEP) say(`(workspace kept: ${work})`);
  else rmSync(work, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
