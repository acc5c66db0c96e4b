/**
 * Checks drift now for a set of instance records: observes each through the driver that started
 * it, judges it, and looks for running containers the records do not account for (`unknown`).
 * Reads nothing from and writes nothing to the state store: the caller passes records in.
 */
import { join } from 'node:path';
import {
  chooseDriver,
  createRuntimeDriver,
  detectDrivers,
  type InstanceHandle,
  type RuntimeConfig,
  type RuntimeDriver,
  type RuntimeKind,
} from '../runtime/index.js';
import type { InstanceRecord } from '../state/index.js';
import { expectedIdentity } from './identity.js';
import { judgeDrift } from './judge.js';
import { type ObserveContext, observeInstance } from './observe.js';
import type { DriftVerdict } from './types.js';

/** One instance's verdict, with what identifies it. */
export interface DriftReport {
  instance: string;
  service: string;
  env: string;
  release: string;
  driver: string;
  /** Whether a live instance record accounts for it (false: a container cairn has no record of). */
  recorded: boolean;
  /**
   * Whether the gateway may send it traffic. Draining (being replaced or stopped) and quarantined
   * instances are out: their drift is shown but no longer counts for the exit code.
   */
  traffic: 'in' | 'out';
  /** Its recorded state, since when, and why (e.g. the drift that is having it replaced). */
  state?: string;
  since?: string;
  stateReason?: string;
  verdict: DriftVerdict;
}

/** States in which an instance gets no traffic. */
const OUT_OF_TRAFFIC = ['draining', 'quarantined'];

export interface CheckInput {
  /** The live instance records to check (already filtered by environment). */
  instances: InstanceRecord[];
  /** The workspace's runtime folders (see `runtimeConfigFor`). */
  runtime: RuntimeConfig;
  /** Only report unknown containers of this environment (and unattributable ones). */
  env?: string;
  /** The driver for a kind; defaults to `createRuntimeDriver`. */
  driverFor?: (kind: RuntimeKind) => RuntimeDriver;
  /**
   * The record of an instance as it is now. A container that `instances` (read before the check)
   * does not name may have been started meanwhile — a drift replacement: asked here before it is
   * called unknown, it is checked under its own name, or skipped while it is still starting.
   */
  recordOf?: (id: string) => InstanceRecord | undefined;
}

/** Observes and judges every instance, then every running container nobody recorded. */
/** The fields of a report that name the instance; `verdict` is added by whoever judged it. */
export function reportBase(record: InstanceRecord): Omit<DriftReport, 'verdict'> {
  return {
    instance: record.id,
    service: record.service,
    env: record.env,
    release: record.releaseId,
    driver: record.driver,
    recorded: true,
    traffic: OUT_OF_TRAFFIC.includes(record.state) ? 'out' : 'in',
    state: record.state,
    since: record.updatedAt,
    ...(record.reason ? { stateReason: record.reason } : {}),
  };
}

export async function checkDrift(input: CheckInput): Promise<DriftReport[]> {
  const driverFor = memoDrivers(input);
  const ctx: ObserveContext = {
    bundlesDir: input.runtime.bundlesDir,
    runcRoot: join(input.runtime.runtimeDir, 'runc'),
    rootfsCache: new Map(),
  };
  const reports: DriftReport[] = [];
  for (const record of input.instances) reports.push(await checkOne(ctx, driverFor, record));
  for (const found of await unknownContainers(input, driverFor)) {
    const record = input.recordOf?.(found.instance);
    if (!record || record.state === 'stopped' || record.state === 'failed') reports.push(found);
    else if (record.state !== 'starting') reports.push(await checkOne(ctx, driverFor, record));
  }
  return reports;
}

async function checkOne(
  ctx: ObserveContext,
  driverFor: (kind: string) => RuntimeDriver,
  record: InstanceRecord,
): Promise<DriftReport> {
  const base = reportBase(record);
  const expected = expectedIdentity(record);
  if (typeof expected === 'string') return { ...base, verdict: { status: 'unknown', detail: expected } };
  let driver: RuntimeDriver;
  try {
    driver = driverFor(record.driver);
  } catch (error) {
    const detail = `observing ${record.id}: ${(error as Error).message}`;
    return { ...base, verdict: { status: 'unknown', detail } };
  }
  const handle = record.handle as unknown as InstanceHandle;
  return { ...base, verdict: judgeDrift(expected, await observeInstance(ctx, driver, handle, expected)) };
}

async function unknownContainers(
  input: CheckInput,
  driverFor: (kind: string) => RuntimeDriver,
): Promise<DriftReport[]> {
  const known = new Set(input.instances.map((i) => i.id));
  const kinds = new Set([...input.instances.map((i) => i.driver), machineDriver()]);
  const reports: DriftReport[] = [];
  for (const kind of kinds) {
    let handles: InstanceHandle[];
    try {
      handles = await driverFor(kind).list();
    } catch {
      continue; // A driver that cannot be used here cannot have started anything here either.
    }
    for (const h of handles) {
      if (known.has(h.id) || (input.env !== undefined && h.env !== '' && h.env !== input.env)) continue;
      if ((await driverFor(kind).inspect(h)).status !== 'running') continue;
      const verdict = judgeDrift(undefined, { instance: h.id, status: 'running' });
      reports.push({
        instance: h.id,
        service: h.service,
        env: h.env,
        release: h.releaseId,
        driver: kind,
        recorded: false,
        traffic: 'in',
        verdict,
      });
    }
  }
  return reports;
}

let machineDriverKind: RuntimeKind | undefined;
/**
 * The driver `auto` chooses on this machine, found once per process: finding it spawns
 * `runc --version` and `bwrap --version`, blocking, and the control plane checks every minute.
 */
function machineDriver(): RuntimeKind {
  machineDriverKind ??= chooseDriver(detectDrivers());
  return machineDriverKind;
}

function memoDrivers(input: CheckInput): (kind: string) => RuntimeDriver {
  const drivers = new Map<string, RuntimeDriver>();
  const make = input.driverFor ?? ((kind: RuntimeKind) => createRuntimeDriver(kind, input.runtime));
  return (kind) => {
    let driver = drivers.get(kind);
    if (!driver) {
      driver = make(kind as RuntimeKind);
      drivers.set(kind, driver);
    }
    return driver;
  };
}
