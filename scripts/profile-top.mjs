#!/usr/bin/env node
// The busiest functions of a V8 CPU profile (`node --cpu-prof`), optionally only between two
// instants of the profile's clock (CLOCK_MONOTONIC, µs) — e.g. the idle window bench/scale.mjs
// prints as `profileIdleWindowUs` when run with SCALE_BENCH_PROFILE_DIR:
//   node scripts/profile-top.mjs CPU.<…>.cpuprofile [fromUs toUs] [count]
// Prints the busy time in the window, then the top functions by self time and by total time
// (share of busy samples; idle samples left out).
import { readFileSync } from 'node:fs';

const [file, from = '-Infinity', to = 'Infinity', count = '30'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/profile-top.mjs PROFILE.cpuprofile [fromUs toUs] [count]');
  process.exit(1);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = ({ callFrame: f }) =>
  `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;

const self = new Map();
const total = new Map();
let busy = 0;
let busyUs = 0;
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  const delta = profile.timeDeltas[i];
  t += delta;
  if (t < Number(from) || t > Number(to)) continue;
  const node = byId.get(profile.samples[i]);
  if (node.callFrame.functionName === '(idle)') continue;
  busy++;
  busyUs += delta;
  self.set(name(node), (self.get(name(node)) ?? 0) + 1);
  const seen = new Set();
  for (let id = node.id; id !== undefined; id = parent.get(id)) {
    const key = name(byId.get(id));
    if (seen.has(key)) continue; // recursion counts once
    seen.add(key);
    total.set(key, (total.get(key) ?? 0) + 1);
  }
}
const top = (counts) =>
  [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(count))
    .map(([fn, n]) => `${((100 * n) / busy).toFixed(1).padStart(5)} %  ${fn}`)
    .join('\n');
console.log(`${busy} busy samples, ~${(busyUs / 1e6).toFixed(2)} s busy in the window`);
console.log(`--- self\n${top(self)}\n--- total\n${top(total)}`);
