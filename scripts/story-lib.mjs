// What the stories share (scripts/story.mjs on this machine, scripts/story-k8s.mjs on the test
// cluster): running cairn as a user would while a load runs, switching hello's variant, timing a
// phase under load, and the per-phase summary table.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CAIRN = join(ROOT, 'bin', 'cairn.js');

export const say = (text) => process.stdout.write(`${text}\n`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A story told in the workspace `work`: numbered headings, cairn commands, timed phases. */
export function createStory(work) {
  let step = 0;
  const story = {
    phases: [],
    /** The load generator (scripts/load.mjs) the phases are measured with, once started. */
    load: undefined,
    heading: (text) => say(`\n[${++step}] ${text}`),
    cairn: (args, options) => runCairn(work, args, options),
    useVariant: (variant, note) => useVariant(work, variant, note),
    /** Runs `fn` and records its duration and the load's figures over it (plus what `fn` returns). */
    async phase(name, fn) {
      const from = Date.now();
      const extra = (await fn()) ?? {};
      story.phases.push({
        phase: name,
        seconds: ((Date.now() - from) / 1000).toFixed(1),
        ...story.load.summary(from, Date.now()),
        ...extra,
      });
    },
    summary: () => summary(story.phases, story.load),
  };
  return story;
}

/**
 * Runs a cairn command as a user would and shows its output as it comes. Asynchronous, so the
 * load generator in this process keeps sending requests meanwhile.
 */
function runCairn(work, args, { allowFail = false, quiet = false } = {}) {
  say(`  $ cairn ${args.join(' ')}`);
  const env = { ...process.env };
  delete env.CAIRN_HOME;
  const child = spawn(process.execPath, [CAIRN, ...args], {
    cwd: work,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  const show = (chunk) => {
    if (!quiet) process.stdout.write(chunk.toString().replace(/^(?=.)/gm, '    '));
  };
  child.stdout.on('data', (c) => {
    stdout += c;
    show(c);
  });
  child.stderr.on('data', show);
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      if (code !== 0 && !allowFail) reject(new Error(`cairn ${args[0]} exited ${code}`));
      else resolve({ code, stdout });
    });
  });
}

/** Points files./etc/hello/config.json at config/VARIANT.json: a new image, a new release. */
function useVariant(work, variant, note = 'a new image, a new release') {
  const file = join(work, 'cairn.yaml');
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace(/\.\/config\/v\d\.json/, `./config/${variant}.json`),
  );
  say(`  (cairn.yaml now bakes config/${variant}.json into the image: ${note})`);
}

/** Figures a phase may return besides the load's, shown as columns when present. */
const EXTRA = { repairMs: true };

function summary(phases, load) {
  say('\nSummary per phase');
  const cols = ['phase', 'seconds', 'requests', 'failures', 'p99Ms', 'versions', 'flipMs', 'switchMs'];
  // A story's own figures (returned by a phase) get a column of their own.
  for (const p of phases) for (const k of Object.keys(p)) if (!cols.includes(k) && k in EXTRA) cols.push(k);
  const rows = phases.map((p) =>
    cols.map((c) =>
      c === 'versions'
        ? Object.entries(p.versions)
            .map(([v, n]) => `${v}:${n}`)
            .join(' ')
        : String(p[c] ?? ''),
    ),
  );
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  say(cols.map((c, i) => c.padEnd(widths[i])).join('  '));
  for (const r of rows) say(r.map((v, i) => v.padEnd(widths[i])).join('  '));
  // Failures are counted by the release that answered, not by when the answer arrived.
  const all = load.summary();
  const ownV3 = all.failuresByVersion.v3 ?? 0;
  say(
    `\nFailed requests not answered by the bad v3: ${all.failures - ownV3}. The bad v3's own failures: ${ownV3} (v3 answered ${all.versions.v3 ?? 0} of ${all.requests} requests).`,
  );
}
