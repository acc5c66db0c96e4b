/**
 * In-flight accounting for every endpoint the gateway knows: least-outstanding choice within a
 * pool, passive health (an endpoint that refused a connection sits out a cool-down), and draining.
 * State is keyed by endpoint id, so it survives `setPools` replacing the pools around it.
 */
import type { Endpoint } from './types.js';

/** How long an endpoint that failed to connect is skipped while others can take its requests. */
export const DEFAULT_DOWN_COOLDOWN_MS = 2_000;
/** How long `drain` waits for in-flight requests when the caller gives no timeout. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export interface EndpointState {
  readonly id: string;
  readonly address: string;
  /** The SPIFFE ID its TLS certificate must name (`run.tls`); undefined: plain HTTP. */
  readonly tlsId: string | undefined;
  inflight: number;
  draining: boolean;
  /** Skipped (while any other endpoint can be used) until this clock time. */
  downUntil: number;
}

export class EndpointRegistry {
  private readonly states = new Map<string, EndpointState>();
  private readonly idleWaiters = new Map<string, Array<() => void>>();
  private cursor = 0;

  /** The state of an endpoint, created on first sight; a changed address (or TLS) makes a fresh state. */
  track(endpoint: Endpoint, tlsId?: string): EndpointState {
    const known = this.states.get(endpoint.id);
    if (known && known.address === endpoint.address && known.tlsId === tlsId) return known;
    const state: EndpointState = {
      id: endpoint.id,
      address: endpoint.address,
      tlsId,
      inflight: 0,
      draining: false,
      downUntil: 0,
    };
    this.states.set(endpoint.id, state);
    return state;
  }

  get(id: string): EndpointState | undefined {
    return this.states.get(id);
  }

  /**
   * The endpoint with the fewest requests in flight among those not draining, not excluded and not
   * cooling down; if every candidate is cooling down, the least loaded of those (better a retry than
   * a certain 503). Ties rotate so idle endpoints share the load.
   */
  pick(
    candidates: readonly EndpointState[],
    now: number,
    exclude?: EndpointState,
  ): EndpointState | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    this.cursor = (this.cursor + 1) % n;
    let best: EndpointState | undefined;
    let bestDown: EndpointState | undefined;
    for (let k = 0; k < n; k++) {
      const s = candidates[(this.cursor + k) % n]!;
      if (s.draining || s === exclude) continue;
      if (s.downUntil > now) {
        if (!bestDown || s.inflight < bestDown.inflight) bestDown = s;
      } else if (!best || s.inflight < best.inflight) best = s;
    }
    return best ?? bestDown;
  }

  acquire(s: EndpointState): void {
    s.inflight++;
  }

  release(s: EndpointState): void {
    s.inflight--;
    if (s.inflight <= 0) {
      s.inflight = 0;
      this.notifyIdle(s.id);
    }
  }

  markDown(s: EndpointState, now: number, cooldownMs = DEFAULT_DOWN_COOLDOWN_MS): void {
    s.downUntil = now + cooldownMs;
  }

  /** Puts an endpoint back in service (it was named again by `setPools`). */
  undrain(s: EndpointState): void {
    s.draining = false;
  }

  /** Marks an endpoint draining and resolves when nothing is in flight, or after `timeoutMs`. */
  drain(id: string, timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS): Promise<void> {
    const s = this.states.get(id);
    if (!s) return Promise.resolve();
    s.draining = true;
    if (s.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      timer.unref?.();
      const waiters = this.idleWaiters.get(id) ?? [];
      waiters.push(done);
      this.idleWaiters.set(id, waiters);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** Requests in flight per endpoint id, for every endpoint known (0 included). */
  inflight(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of this.states.values()) counts[s.id] = s.inflight;
    return counts;
  }

  /** Forgets endpoints that are in no pool and have nothing in flight; returns their addresses. */
  prune(inUse: ReadonlySet<string>): string[] {
    const gone: string[] = [];
    for (const s of this.states.values()) {
      if (inUse.has(s.id) || s.inflight > 0) continue;
      this.states.delete(s.id);
      gone.push(s.address);
    }
    return gone;
  }

  private notifyIdle(id: string): void {
    const waiters = this.idleWaiters.get(id);
    if (!waiters) return;
    this.idleWaiters.delete(id);
    for (const w of waiters) w();
  }
}
