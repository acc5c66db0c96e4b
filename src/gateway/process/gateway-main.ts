/**
 * The gateway process: `node gateway-main.js --state FILE --socket FILE --pid FILE`. Started
 * detached by the control plane (its own session: a SIGKILL of the control plane does not reach
 * it), it listens with the config in the state file, serves the pools last written there, and
 * takes new pools, drains and metrics requests over its control socket. Every applied change is
 * written back to the state file, so a restart serves the last configuration at once.
 * Reports `{ready, address}` or `{failed, code, message}` once over the IPC channel it was
 * started with, then lets go of it.
 */
import { rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { DiskWatch, processLog } from '../../lib/index.js';
import { AccessLog } from '../access-log.js';
import { createGateway } from '../builtin-gateway.js';
import type { Gateway } from '../types.js';
import { serveControl } from './control-server.js';
import { configHash, fromWire, type GatewayStateFile, PROTOCOL_VERSION } from './protocol.js';
import { readStateFile, writePidFile, writeStateFile } from './state-file.js';

const STOP_GRACE_MS = 10_000;
const DISK_CHECK_MS = 1000;

interface Running {
  gateway: Gateway;
  state: GatewayStateFile;
  address: string;
  files: { state: string; socket: string; pid: string };
  control?: Server;
  stopping?: Promise<void>;
}

/** Sends one message to the control plane that started this process, if it still listens. */
function tell(message: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** This process's log (stderr, a file on the workspace's disk): a full disk cannot stop the process through it. */
const logLines = processLog(2, (text) => process.stderr.write(text));

function report(message: Record<string, unknown>): void {
  logLines.line(message);
}

/**
 * The access log: on a full disk it is dropped with one warning and starts again, with one line
 * saying how many lines were dropped, when the disk watch sees space again.
 */
function accessLogTo(file: string | undefined): ((line: string) => void) | undefined {
  if (!file) return undefined;
  const disk = new DiskWatch({
    path: dirname(file),
    log: report,
    meanwhile: {
      full: 'the gateway keeps serving and drops its access log until space returns',
      recovered: 'the access log resumed',
    },
  });
  const log = new AccessLog(file, disk, report);
  disk.onRecovered(() => log.resume());
  setInterval(() => {
    void disk.check();
    void log.maintain();
  }, DISK_CHECK_MS).unref();
  return (line) => log.write(line);
}

async function stop(run: Running, graceMs: number): Promise<void> {
  run.stopping ??= (async () => {
    run.control?.close();
    await run.gateway.close(graceMs).catch(() => undefined);
    rmSync(run.files.pid, { force: true });
    rmSync(run.files.socket, { force: true });
    report({ msg: 'gateway stopped' });
    process.exit(0);
  })();
  return run.stopping;
}

function control(run: Running): Promise<Server> {
  const persist = () => writeStateFile(run.files.state, run.state);
  return serveControl(run.files.socket, {
    hello: async () => ({
      protocol: PROTOCOL_VERSION,
      pid: process.pid,
      root: run.state.root,
      env: run.state.env,
      engine: run.state.config.engine,
      address: run.address,
      configHash: configHash(run.state.config),
    }),
    setPools: async ({ service, pools }) => {
      await run.gateway.setPools(service, pools);
      run.state.pools[service] = pools;
      persist();
      return {};
    },
    setRoutes: async ({ routes }) => {
      const config = { ...run.state.config, routes };
      await run.gateway.setRoutes(fromWire(config).routes);
      run.state.config = config;
      const routed = new Set(routes.map((r) => r.service));
      for (const service of Object.keys(run.state.pools))
        if (!routed.has(service)) delete run.state.pools[service];
      persist();
      return { configHash: configHash(config) };
    },
    setIdentity: async (identity) => {
      await run.gateway.setIdentity(identity);
      return {};
    },
    drain: async ({ endpointId, timeoutMs }) => {
      await run.gateway.drain(endpointId, timeoutMs);
      return {};
    },
    metrics: async ({ sinceSecond }) => run.gateway.exportMetrics(sinceSecond),
    stop: async ({ graceMs }) => {
      setImmediate(() => void stop(run, graceMs));
      return {};
    },
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { state: { type: 'string' }, socket: { type: 'string' }, pid: { type: 'string' } },
  });
  const files = { state: values.state!, socket: values.socket!, pid: values.pid! };
  const state = readStateFile(files.state);
  if (!state) throw new Error(`reading the gateway state ${files.state}: missing or not JSON`);
  const gateway = createGateway({
    ...fromWire(state.config),
    accessLog: accessLogTo(state.config.accessLogFile),
  });
  // Pools first: the first request already finds them (HAProxy starts with them in its maps).
  for (const [service, pools] of Object.entries(state.pools))
    await Promise.resolve(gateway.setPools(service, pools)).catch((error: Error) =>
      report({ level: 'error', msg: 'restoring pools', service, error: error.message }),
    );
  let address: string;
  try {
    address = await gateway.listen();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    await tell({ failed: true, code: e.code, message: e.message, hint: (e as { hint?: string }).hint });
    throw error;
  }
  const run: Running = { gateway, state, address, files };
  run.control = await control(run);
  writePidFile(files.pid, { pid: process.pid, address, protocol: PROTOCOL_VERSION });
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.on(signal, () => void stop(run, STOP_GRACE_MS));
  process.on('SIGHUP', () => undefined);
  report({ msg: 'gateway ready', env: state.env, engine: state.config.engine, address, pid: process.pid });
  await tell({ ready: true, address, pid: process.pid });
  if (process.connected) process.disconnect();
}

main().catch((error: Error) => {
  report({ level: 'error', msg: 'gateway failed', error: error.message });
  process.exit(1);
});
