/**
 * Which release and endpoint sits in which HAProxy backend and server slot, and the runtime-API
 * commands that move the slots from one `setPools` to the next. Pure: commands are returned as
 * text for the caller to send, in an order that keeps every new request routable:
 * new servers first, then the split (one atomic `set map`), then drains.
 */
import { ValidationError } from '../../lib/index.js';
import { splitAddress } from '../backend-pool.js';
import { planSplit } from '../release-split.js';
import type { Endpoint, Pool } from '../types.js';

/** Releases of one service that can hold traffic at once (stable, canary, and two being retired). */
export const POOL_SLOTS = 4;
/** Endpoints one release can have behind the HAProxy engine. */
export const SERVER_SLOTS = 32;

type ServerState = 'free' | 'ready' | 'draining';

interface ServerSlot {
  state: ServerState;
  endpoint?: Endpoint;
}

interface PoolSlot {
  release?: string;
  /** True once no pool names the release: it holds no traffic and frees itself when drained. */
  retired: boolean;
  servers: ServerSlot[];
}

/** Read access for rendering the config of a (re)started HAProxy. */
export interface SlotView {
  address(service: string, slot: number, server: number): string | undefined;
  serverState(service: string, slot: number, server: number): ServerState;
}

/** A server that is draining, named as HAProxy names it. */
export interface DrainingServer {
  backend: string;
  server: string;
  endpointId: string;
}

const newPoolSlot = (): PoolSlot => ({
  retired: false,
  servers: Array.from({ length: SERVER_SLOTS }, () => ({ state: 'free' as const })),
});

/** `set server` commands for an address: `addr <ip> port <port>`. */
function addrArgs(address: string): string {
  const { host, port } = splitAddress(address);
  return `addr ${host === 'localhost' ? '127.0.0.1' : host} port ${port}`;
}

export class SlotTable implements SlotView {
  private readonly services = new Map<string, PoolSlot[]>();
  /** Map entries as HAProxy holds them: file → key → value. */
  private readonly maps = new Map<string, Map<string, string>>();

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
        keep.add(`${k}/${e.id}`);
        commands.push(...this.admit(service, k, slot, e));
      }
    });
    commands.push(...this.setSplit(service, pools, placement));
    slots.forEach((slot, k) => {
      if (slot.release !== undefined && !placement.includes(k)) slot.retired = true;
      slot.servers.forEach((s, n) => {
        if (s.state === 'ready' && !keep.has(`${k}/${s.endpoint!.id}`)) {
          s.state = 'draining';
          commands.push(`set server ${service}.p${k}/e${n + 1} state drain`);
        }
      });
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
      const named = new Set(slot.servers.filter((s) => s.state !== 'free').map((s) => s.endpoint!.id));
      const needed = p.endpoints.filter((e) => !named.has(e.id)).length;
      const free = slot.servers.filter((s) => s.state === 'free').length;
      if (needed > free)
        throw new ValidationError(
          `set pools of service ${service}: release ${p.release} has more than ${SERVER_SLOTS} endpoints`,
          [],
          { hint: `run at most ${SERVER_SLOTS} instances per release with the haproxy engine` },
        );
    });
    return placement as number[];
  }

  private admit(service: string, k: number, slot: PoolSlot, e: Endpoint): string[] {
    const name = (n: number) => `${service}.p${k}/e${n + 1}`;
    const n = slot.servers.findIndex((s) => s.state !== 'free' && s.endpoint!.id === e.id);
    if (n !== -1) {
      const s = slot.servers[n]!;
      const commands: string[] = [];
      if (s.endpoint!.address !== e.address) commands.push(`set server ${name(n)} ${addrArgs(e.address)}`);
      if (s.state === 'draining') commands.push(`set server ${name(n)} state ready`);
      s.state = 'ready';
      s.endpoint = e;
      return commands;
    }
    const free = slot.servers.findIndex((s) => s.state === 'free');
    slot.servers[free] = { state: 'ready', endpoint: e };
    return [`set server ${name(free)} ${addrArgs(e.address)}`, `set server ${name(free)} state ready`];
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
    this.forEachServer((service, k, n, s) => {
      if (s.state === 'draining')
        out.push({ backend: `${service}.p${k}`, server: `e${n + 1}`, endpointId: s.endpoint!.id });
    });
    return out;
  }

  /** Puts the servers of an endpoint into drain now (drain without a `setPools`). */
  drainEndpoint(endpointId: string): string[] {
    const commands: string[] = [];
    this.forEachServer((service, k, n, s) => {
      if (s.state === 'ready' && s.endpoint!.id === endpointId) {
        s.state = 'draining';
        commands.push(`set server ${service}.p${k}/e${n + 1} state drain`);
      }
    });
    return commands;
  }

  /** True while any slot still holds the endpoint (ready or draining). */
  holds(endpointId: string): boolean {
    let found = false;
    this.forEachServer((_s, _k, _n, s) => {
      if (s.state !== 'free' && s.endpoint!.id === endpointId) found = true;
    });
    return found;
  }

  /** Frees a drained server (its slot can take another endpoint) and a retired release with no server left. */
  free(backend: string, server: string): string[] {
    const [service, pk] = backend.split('.') as [string, string];
    const k = Number(pk.slice(1));
    const slot = this.services.get(service)?.[k];
    const n = Number(server.slice(1)) - 1;
    const s = slot?.servers[n];
    if (!slot || !s || s.state !== 'draining') return [];
    slot.servers[n] = { state: 'free' };
    if (slot.retired && slot.servers.every((x) => x.state === 'free')) {
      slot.release = undefined;
      slot.retired = false;
    }
    return [`set server ${backend}/${server} state maint`];
  }

  /** Release and endpoint of a log line's backend and server (empty when unknown). */
  origin(backend: string, server: string): { release: string; endpoint: string } {
    const dot = backend.lastIndexOf('.p');
    const slot =
      dot === -1 ? undefined : this.services.get(backend.slice(0, dot))?.[Number(backend.slice(dot + 2))];
    const s = slot?.servers[Number(server.slice(1)) - 1];
    return { release: slot?.release ?? '', endpoint: s?.endpoint?.id ?? '' };
  }

  address(service: string, k: number, n: number): string | undefined {
    return this.services.get(service)?.[k]?.servers[n - 1]?.endpoint?.address;
  }

  serverState(service: string, k: number, n: number): ServerState {
    return this.services.get(service)?.[k]?.servers[n - 1]?.state ?? 'free';
  }

  /** The map files' content as HAProxy should load it at start. */
  mapText(file: 'split' | 'pin'): string {
    const path = this.mapFiles[file];
    const entries = path === undefined ? undefined : this.maps.get(path);
    if (!entries) return '';
    return [...entries].map(([k, v]) => `${k} ${v}\n`).join('');
  }

  private forEachServer(fn: (service: string, k: number, n: number, s: ServerSlot) => void): void {
    for (const [service, slots] of this.services)
      for (const [k, slot] of slots.entries())
        for (const [n, s] of slot.servers.entries()) fn(service, k, n, s);
  }
}
