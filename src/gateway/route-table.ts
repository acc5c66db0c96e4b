/** Matches a request's host and path to a route: most specific host first, then longest path prefix. */
import { ValidationError } from '../lib/index.js';
import type { GatewayRoute } from './types.js';

/** A route with its position in the spec, which names it in metrics (`route="0"`). */
export interface CompiledRoute {
  index: number;
  /** `index` as the metrics label, made once rather than per request. */
  label: string;
  route: GatewayRoute;
  /** 2 exact host, 1 `*.suffix`, 0 `*`. */
  hostRank: number;
  /** Lower-case host, or the suffix (with the leading dot) for wildcards. */
  hostKey: string;
  /** Path prefix without a trailing slash (`/` becomes ``). */
  prefix: string;
}

const HOST_CACHE_LIMIT = 1024;

/** Strips the port and lower-cases a Host header value; `[::1]:80` keeps its brackets. */
export function normaliseHost(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  const h = hostHeader.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

function compile(route: GatewayRoute, index: number): CompiledRoute {
  const host = (route.host ?? '*').toLowerCase();
  const path = route.path ?? '/';
  const prefix = path.endsWith('/') ? path.slice(0, -1) : path;
  const label = String(index);
  if (host === '*') return { index, label, route, hostRank: 0, hostKey: '', prefix };
  if (host.startsWith('*.')) return { index, label, route, hostRank: 1, hostKey: host.slice(1), prefix };
  return { index, label, route, hostRank: 2, hostKey: host, prefix };
}

function hostMatches(r: CompiledRoute, host: string): boolean {
  if (r.hostRank === 0) return true;
  if (r.hostRank === 1) return host.endsWith(r.hostKey) && host.length > r.hostKey.length;
  return host === r.hostKey;
}

/** True when `path` is under `prefix` at a segment boundary (`/api` matches `/api/x`, not `/apix`). */
function pathMatches(prefix: string, path: string): boolean {
  if (prefix === '') return true;
  if (!path.startsWith(prefix)) return false;
  const next = path.charCodeAt(prefix.length);
  return Number.isNaN(next) || next === 47 /* / */ || next === 63 /* ? */;
}

/** Orders candidates so the first match wins: host rank, then longer prefix, then spec order. */
function bySpecificity(a: CompiledRoute, b: CompiledRoute): number {
  return b.hostRank - a.hostRank || b.prefix.length - a.prefix.length || a.index - b.index;
}

/** An immutable route table; build a new one to change routes. */
export class RouteTable {
  private readonly routes: CompiledRoute[];
  private readonly byHost = new Map<string, CompiledRoute[]>();

  constructor(routes: GatewayRoute[]) {
    this.routes = routes.map(compile).sort(bySpecificity);
    const seen = new Set<string>();
    for (const r of this.routes) {
      const key = `${r.hostRank}|${r.hostKey}|${r.prefix}`;
      if (seen.has(key))
        throw new ValidationError(
          `load routes: two routes for host ${r.route.host ?? '*'} and path ${r.route.path ?? '/'}`,
          [],
          { hint: 'remove or change one of them in routes:' },
        );
      seen.add(key);
    }
  }

  /** The route for a request, or undefined (the gateway answers 404). `url` is the request target. */
  match(hostHeader: string | undefined, url: string): CompiledRoute | undefined {
    const candidates = this.candidatesFor(normaliseHost(hostHeader));
    for (const r of candidates) if (pathMatches(r.prefix, url)) return r;
    return undefined;
  }

  /** Routes whose host matches, most specific first; cached per host (bounded). */
  private candidatesFor(host: string): CompiledRoute[] {
    const cached = this.byHost.get(host);
    if (cached) return cached;
    const found = this.routes.filter((r) => hostMatches(r, host));
    if (this.byHost.size >= HOST_CACHE_LIMIT) this.byHost.clear();
    this.byHost.set(host, found);
    return found;
  }

  /** Every route, most specific first. */
  all(): readonly CompiledRoute[] {
    return this.routes;
  }
}
