/**
 * Blue/green preview traffic: while a rollout is `previewing`, cairn itself sends GET requests to
 * the service's `deploy.preview.paths` through the environment's gateway, pinned to the new release
 * with the pin header, so the pre-promotion analysis has real responses of the new release to judge
 * even when no tester is looking. Bounded: at most `rps` requests a second, one in flight per path,
 * and only while the rollout previews.
 */
import { request } from 'node:http';
import { PIN_HEADER, parseListen } from '../gateway/index.js';
import type { RolloutState } from '../rollout/index.js';
import type { Spec } from '../spec/index.js';
import type { DeploymentRecord } from '../state/index.js';

/** A preview request that takes longer than this counts as the gateway's timeout would. */
const REQUEST_TIMEOUT_MS = 5_000;
/** The user agent the preview requests carry, so access logs tell them apart. */
const USER_AGENT = 'cairn-preview';

/** Where preview requests go: the gateway's address and a Host one of the service's routes matches. */
export interface PreviewTarget {
  host: string;
  port: number;
  hostHeader: string;
}

/** The gateway address and Host for a service's preview, or undefined when no route reaches it. Pure. */
export function previewTarget(spec: Spec, env: string, service: string): PreviewTarget | undefined {
  const listen = spec.environments[env]?.gateway.listen;
  const route = spec.routes.find((r) => r.service === service);
  if (!listen || !route) return undefined;
  const { host, port } = parseListen(listen);
  const address = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const hostHeader = route.host === '*' ? `${address}:${port}` : route.host.replace(/^\*\./, 'preview.');
  return { host: address, port, hostHeader };
}

interface Prober {
  timer: NodeJS.Timeout;
  inFlight: Set<string>;
}

export class PreviewTraffic {
  private readonly probers = new Map<string, Prober>();

  constructor(private readonly spec: () => Spec) {}

  /** Starts preview requests for rollouts that preview now, and stops them for all others. */
  sync(deployments: DeploymentRecord[]): void {
    const wanted = new Set<string>();
    for (const d of deployments) {
      const state = d.state as unknown as RolloutState;
      const preview = state.settings.preview;
      if (state.stage !== 'previewing' || !preview || preview.rps <= 0 || preview.paths.length === 0)
        continue;
      wanted.add(d.id);
      if (this.probers.has(d.id)) continue;
      const target = this.targetOf(d);
      if (target) this.probers.set(d.id, this.start(target, state.to, preview.paths, preview.rps));
    }
    for (const [id, prober] of this.probers) {
      if (wanted.has(id)) continue;
      clearInterval(prober.timer);
      this.probers.delete(id);
    }
  }

  /** A spec being edited is asked again at the next tick. */
  private targetOf(d: DeploymentRecord): PreviewTarget | undefined {
    try {
      return previewTarget(this.spec(), d.env, d.service);
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.sync([]);
  }

  private start(target: PreviewTarget, release: string, paths: string[], rps: number): Prober {
    const inFlight = new Set<string>();
    let next = 0;
    const timer = setInterval(
      () => {
        const path = paths[next++ % paths.length]!;
        if (inFlight.has(path)) return;
        inFlight.add(path);
        send(target, release, path).finally(() => inFlight.delete(path));
      },
      Math.max(1, Math.round(1000 / rps)),
    );
    timer.unref();
    return { timer, inFlight };
  }
}

/** One GET, pinned to `release`; its outcome is read from the gateway's metrics, not here. */
function send(target: PreviewTarget, release: string, path: string): Promise<void> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        path,
        method: 'GET',
        headers: { host: target.hostHeader, [PIN_HEADER]: release, 'user-agent': USER_AGENT },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', () => resolve());
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve());
    req.end();
  });
}
