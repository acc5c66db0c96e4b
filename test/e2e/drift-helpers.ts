/** Shared steps of the drift runbooks: a hello workspace under `cairn up` with real runc, and what a user reads back. */
import { appendFileSync, chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { detectDrivers } from '../../src/runtime/index.js';
import type { HelloWorkspace } from '../helpers/workspace.js';

export const runcUsable = detectDrivers().some((d) => d.kind === 'runc' && d.usable);
export const SKIP_REASON = 'runc is not usable here (needs root and the runc package): drift e2e skipped';

export interface AuditRow {
  action: string;
  actor: string;
  time: string;
  reason?: string;
  subject: Record<string, string>;
  detail?: Record<string, unknown>;
}

export interface StatusJson {
  services: Array<{ instances: Array<{ id: string; release: string; state: string }> }>;
  drift: Array<{
    env: string;
    mode: string;
    intervalMs: number;
    fastPath: boolean;
    checks: number;
    lastCheck?: { at: string; trigger: string; durationMs: number; instances: number; notInSync: number };
    quarantined: Array<{ id: string; reason?: string }>;
  }>;
}

/** Runs a cairn command and expects exit 0. */
export async function ok(ws: HelloWorkspace, args: string[]): Promise<string> {
  const r = await ws.runAsync(args);
  expect(r.code, `cairn ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** init, build, up (runc), deploy and wait until the rollout is done. */
export async function deployHello(ws: HelloWorkspace): Promise<void> {
  await ok(ws, ['init']);
  await ok(ws, ['build', 'hello']);
  await ok(ws, ['up', '--detach', '--driver', 'runc']);
  await ok(ws, ['deploy', 'hello', '--env', 'dev', '--image', 'hello', '--wait', '--timeout', '120s']);
}

/** Stops the control plane (instances keep running), then starts it again with the spec as it is now. */
export async function restartUp(ws: HelloWorkspace): Promise<void> {
  await ok(ws, ['down', '--keep-instances']);
  await ok(ws, ['up', '--detach', '--driver', 'runc']);
}

export async function status(ws: HelloWorkspace): Promise<StatusJson> {
  return JSON.parse(await ok(ws, ['status', '-o', 'json'])) as StatusJson;
}

/** Live instances of hello in dev, by state. */
export async function instances(ws: HelloWorkspace): Promise<Array<{ id: string; state: string }>> {
  return (await status(ws)).services[0]?.instances ?? [];
}

export async function audit(ws: HelloWorkspace, action?: string): Promise<AuditRow[]> {
  const out = await ok(ws, ['audit', 'log', '-o', 'json']);
  const rows = (JSON.parse(out) as { entries: AuditRow[] }).entries;
  return action ? rows.filter((e) => e.action === action) : rows;
}

/** Polls `probe` until it returns something truthy or `timeoutMs` passes; returns it (or undefined). */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false>,
  timeoutMs: number,
  stepMs = 100,
): Promise<T | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const v = await probe();
    if (v) return v;
    await sleep(stepMs);
  }
  return undefined;
}

/** The shared bundle's /app/server.js of the one image in the workspace. */
export function serverJs(ws: HelloWorkspace): string {
  const bundles = join(ws.dir, '.cairn', 'bundles');
  const [hex] = readdirSync(bundles).filter((n) => /^[0-9a-f]{64}$/.test(n));
  return join(bundles, hex!, 'rootfs', 'app', 'server.js');
}

/**
 * Waits until the spare bundle of the one image is unpacked (`.cairn/bundles/.spare/<hex>`), then
 * a moment more for its watch to be set up.
 */
export async function spareReady(ws: HelloWorkspace, timeoutMs: number): Promise<boolean> {
  const spares = join(ws.dir, '.cairn', 'bundles', '.spare');
  const found = await waitFor(
    async () =>
      existsSync(spares) &&
      readdirSync(spares).some((n) => /^[0-9a-f]{64}$/.test(n) && existsSync(join(spares, n, 'bundle.json'))),
    timeoutMs,
    200,
  );
  await sleep(1000);
  return found === true;
}

/** Appends one byte to a read-only bundle file, as an intruder with root would. */
export function appendByte(file: string): void {
  const { mode } = statSync(file);
  chmodSync(file, 0o644);
  appendFileSync(file, 'x');
  chmodSync(file, mode);
}

export const runcRoot = (ws: HelloWorkspace) => join(ws.dir, '.cairn', 'runtime', 'runc');
