/**
 * Which release sits in which HAProxy pool backend, which endpoint is which server, and the
 * runtime-API commands that move them from one `setPools` to the next. Pure: commands are returned
 * as text for the caller to send, in an order that keeps every new request routable: new servers
 * first, then the split (one atomic `set map`), then drains.
 *
 * Every endpoint admitted gets a server of its own, with a name never used before (`e<n>`), and a
 * drained server is deleted, not reused: a server object never points at two instances, so no
 * kept-alive connection to a retired release can serve a later one.
 */
import { ValidationError } from '../../lib/index.js';
import { splitAddress } from '../backend-pool.js';
import { planSplit } from '../release-split.js';
import type { Endpoint, Pool } from '../types.js';

/** Releases of one service that can hold traffic at once (stable, canary, and two being retired). */
export const POOL_SLOTS = 4;
/** Endpoints one release can have behind the HAProxy engine. */
export const SERVER_SLOTS = 32;
/** How many deleted servers are still remembered, for log lines that arrive after the delete. */
const REMEMBERED_ORIGINS = 10_000;

interface Server {
  name: string;
  state: 'ready' | 'draining';
  endpoint: Endpoint;
}

interface PoolSlot {
  release?: string;
  /** True once no pool names the release: it holds no traffic and frees itself when drained. */
  retired: boolean;
  servers: Server[];
}

/** Read access for rendering the config of a (re)started HAProxy. */
export interface SlotView {
  /** Servers taking requests in pool backend `k` of a service. */
  readyServers(service: string, k: number): { name: string; address: string }[];
}

/** A server that is draining, named as HAProxy names it. */
export interface DrainingServer {
  backend: string;
  server: string;
  endpointId: string;
}

const newPoolSlot = (): PoolSlot => ({ retired: false, servers: [] });

/** An address as HAProxy takes it: `127.0.0.1:8080`, `[::1]:8080`. */
export function serverAddress(address: string): string {
  const { host, port } = splitAddress(address);
  if (host === 'localhost') return `127.0.0.1:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class SlotTable implements SlotView {
  private readonly services = new Map<string, PoolSlot[]>();
  /** Map entries as HAProxy holds them: file → key → value. */
  private readonly maps = new Map<string, Map<string, string>>();
  /** Release and endpoint of every server name handed out (bounded), for the log. */
  private readonly origins = new Map<string, { release: string; endpoint: string }>();
  private lastServer = 0;

  /** `pin` is omitted when the environment ignores the pin header (HAProxy then loads no pin map). */
  constructor(
    services: string[],
    private readonly mapFiles: { split: string; pin?: string },
  ) {
    for (const s of services) this.services.set(s, Array.from({ length: POOL_SLOTS }, newPoolSlot));
    this.maps.set(mapFiles.split, new Map());
    if (mapFiles.pin) this.maps.set(mapFiles.pin, new Map());
  }

  has(service: string): boolean {
    return this.services.has(service);
  }

  /**
   * The commands that give `service` these pools. Throws `ValidationError` (and changes nothing)
   * when the pools need more release or endpoint slots than there are free.
   */
  apply(service: string, pools: Pool[]): string[] {
    const slots = this.services.get(service);
    if (!slots) return [];
    const placement = this.place(service, slots, pools);
    const commands: string[] = [];
    const keep = new Set<string>();
    pools.forEach((pool, i) => {
      const k = placement[i]!;
      const slot = slots[k]!;
      slot.release = pool.release;
      slot.retired = false;
      for (const e of pool.endpoints) {
        keep.add(`${k}/${e.id}@${e.address}`);
        commands.push(...this.admit(service, k, slot, e));
      }
    });
    commands.push(...this.setSplit(service, pools, placement));
    slots.forEach((slot, k) => {
      if (slot.release !== undefined && !placement.includes(k)) slot.retired = true;
      for (const s of slot.servers)
        if (s.state === 'ready' && !keep.has(`${k}/${s.endpoint.id}@${s.endpoint.address}`)) {
          s.state = 'draining';
          commands.push(`set server ${service}.p${k}/${s.name} state drain`);
        }
    });
    return commands;
  }

  /** Picks a slot per pool (the one already holding the release, else a free one); checks capacity. */
  private place(service: string, slots: PoolSlot[], pools: Pool[]): number[] {
    const taken = new Set<number>();
    const placement = pools.map((p) => {
      const k = slots.findIndex((s) => s.release === p.release);
      if (k !== -1) taken.add(k);
      return k;
    });
    for (let i = 0; i < pools.length; i++) {
      if (placement[i] !== -1) continue;
      const k = slots.findIndex((s, j) => !taken.has(j) && s.release === undefined);
      if (k === -1) {
        const draining = slots.filter((s, j) => !taken.has(j) && s.retired).length;
        throw new ValidationError(
          `set pools of service ${service}: more than ${POOL_SLOTS} releases would hold slots (${draining} of them still draining)`,
          [],
          {
            hint: 'give the service at most 4 releases at once and let retired ones drain, or use the builtin engine',
          },
        );
      }
      taken.add(k);
      placement[i] = k;
    }
    pools.forEach((p, i) => {
      const slot = slots[placement[i]!]!;
      const named = new Set(slot.servers.map((s) => `${s.endpoint.id}@${s.endpoint.address}`));
      const needed = p.endpoints.filter((e) => !named.has(`${e.id}@${e.address}`)).length;
      if (slot.servers.length + needed > SERVER_SLOTS)
        throw new ValidationError(
          `set pools of service ${service}: release ${p.release} has more than ${SERVER_SLOTS} endpoints`,
          [],
          { hint: `run at most ${SERVER_SLOTS} instances per release with the haproxy engine` },
        );
    });
    return placement as number[];
  }

  private admit(service: string, k: number, slot: PoolSlot, e: Endpoint): string[] {
    const backend = `${service}.p${k}`;
    const known = slot.servers.find((s) => s.endpoint.id === e.id && s.endpoint.address === e.address);
    if (known) {
      const wasDraining = known.state === 'draining';
      known.state = 'ready';
      return wasDraining ? [`set server ${backend}/${known.name} state ready`] : [];
    }
    const name = `e${++this.lastServer}`;
    slot.servers.push({ name, state: 'ready', endpoint: e });
    this.remember(`${backend}/${name}`, { release: slot.release ?? '', endpoint: e.id });
    return [`add server ${backend}/${name} ${serverAddress(e.address)}`, `enable server ${backend}/${name}`];
  }

  private remember(key: string, origin: { release: string; endpoint: string }): void {
    this.origins.set(key, origin);
    if (this.origins.size > REMEMBERED_ORIGINS) this.origins.delete(this.origins.keys().next().value!);
  }

  /** One `split.map` value: `active:fb0..fb3:slot:end:…`, and the pin entries of the service. */
  private setSplit(service: string, pools: Pool[], placement: number[]): string[] {
    const plan = planSplit(pools);
    const slotOf = (pool: Pool) => placement[pools.indexOf(pool)]!;
    const weighted = plan.placed.filter((p) => p.to > p.from);
    const positions = weighted.map((p) => `${slotOf(p.pool)}:${p.to}`);
    while (positions.length < POOL_SLOTS) positions.push(`x:${-1}`);
    const fallbacks = Array.from({ length: POOL_SLOTS }, (_, k) => {
      const other = weighted.find((p) => slotOf(p.pool) !== k);
      return other ? String(slotOf(other.pool)) : 'x';
    });
    const commands =
      pools.length === 0
        ? this.setEntry(this.mapFiles.split, service, undefined)
        : this.setEntry(this.mapFiles.split, service, [plan.active, ...fallbacks, ...positions].join(':'));
    if (!this.mapFiles.pin) return commands;
    const pinFile = this.mapFiles.pin;
    const pins = new Map<string, string>();
    for (const p of plan.placed) pins.set(p.pool.release, String(slotOf(p.pool)));
    for (const role of ['stable', 'canary'] as const) {
      const ofRole = plan.placed.filter((p) => p.role === role);
      const pick = ofRole.find((p) => p.to > p.from) ?? ofRole[0];
      if (pick) pins.set(role, String(slotOf(pick.pool)));
    }
    for (const key of this.maps.get(pinFile)!.keys())
      if (key.startsWith(`${service}/`) && !pins.has(key.slice(service.length + 1)))
        commands.push(...this.setEntry(pinFile, key, undefined));
    for (const [name, slot] of pins) commands.push(...this.setEntry(pinFile, `${service}/${name}`, slot));
    return commands;
  }

  private setEntry(file: string, key: string, value: string | undefined): string[] {
    const entries = this.maps.get(file)!;
    const before = entries.get(key);
    if (before === value) return [];
    if (value === undefined) {
      entries.delete(key);
      return [`del map ${file} ${key}`];
    }
    entries.set(key, value);
    return [`${before === undefined ? 'add' : 'set'} map ${file} ${key} ${value}`];
  }

  /** Every draining server; the caller frees those with no stream left. */
  draining(): DrainingServer[] {
    const out: DrainingServer[] = [];
    this.forEachServer((backend, s) => {
      if (s.state === 'draining') out.push({ backend, server: s.name, endpointId: s.endpoint.id });
    });
    return out;
  }

  /** Puts the servers of an endpoint into drain now (drain without a `setPools`). */
  drainEndpoint(endpointId: string): string[] {
    const commands: string[] = [];
    this.forEachServer((backend, s) => {
      if (s.state === 'ready' && s.endpoint.id === endpointId) {
        s.state = 'draining';
        commands.push(`set server ${backend}/${s.name} state drain`);
      }
    });
    return commands;
  }

  /** True while any server still stands for the endpoint (ready or draining). */
  holds(endpointId: string): boolean {
    let found = false;
    this.forEachServer((_b, s) => {
      if (s.endpoint.id === endpointId) found = true;
    });
    return found;
  }

  /**
   * Deletes a drained server, and frees a retired release's backend once it has none left.
   * `force` first cuts the streams still on it (a drain that timed out).
   */
  free(backend: string, server: string, force = false): string[] {
    const slot = this.slotOf(backend);
    const at = slot?.servers.findIndex((s) => s.name === server && s.state === 'draining') ?? -1;
    if (!slot || at === -1) return [];
    slot.servers.splice(at, 1);
    if (slot.retired && slot.servers.length === 0) {
      slot.release = undefined;
      slot.retired = false;
    }
    const name = `${backend}/${server}`;
    return [
      `disable server ${name}`,
      ...(force ? [`shutdown sessions server ${name}`] : []),
      `del server ${name}`,
    ];
  }

  /** Forgets draining servers: a restarted HAProxy has no stream left on them. */
  forgetDraining(): void {
    for (const slots of this.services.values())
      for (const slot of slots) {
        slot.servers = slot.servers.filter((s) => s.state === 'ready');
        if (slot.retired && slot.servers.length === 0) {
          slot.release = undefined;
          slot.retired = false;
        }
      }
  }

  /** Release and endpoint of a log line's backend and server (empty when unknown). */
  origin(backend: string, server: string): { release: string; endpoint: string } {
    return this.origins.get(`${backend}/${server}`) ?? { release: '', endpoint: '' };
  }

  readyServers(service: string, k: number): { name: string; address: string }[] {
    const slot = this.services.get(service)?.[k];
    return (slot?.servers ?? [])
      .filter((s) => s.state === 'ready')
      .map((s) => ({ name: s.name, address: serverAddress(s.endpoint.address) }));
  }

  private slotOf(backend: string): PoolSlot | undefined {
    const dot = backend.lastIndexOf('.p');
    if (dot === -1) return undefined;
    return this.services.get(backend.slice(0, dot))?.[Number(backend.slice(dot + 2))];
  }

  /** The map files' content as HAProxy should load it at start. */
  mapText(file: 'split' | 'pin'): string {
    const path = this.mapFiles[file];
    const entries = path === undefined ? undefined : this.maps.get(path);
    if (!entries) return '';
    return [...entries].map(([k, v]) => `${k} ${v}\n`).join('');
  }

  private forEachServer(fn: (backend: string, s: Server) => void): void {
    for (const [service, slots] of this.services)
      for (const [k, slot] of slots.entries()) for (const s of slot.servers) fn(`${service}.p${k}`, s);
  }
}
