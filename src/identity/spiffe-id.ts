/**
 * SPIFFE IDs of cairn's workloads: `spiffe://<trust-domain>/<env>/<service>`. Pure. The ID names
 * what a workload is (its service in an environment), never which copy: the release and instance
 * are in the certificate's subject instead (see svid.ts), so a new release keeps its identity.
 */
import { ValidationError } from '../lib/index.js';
import type { IdentitySettings } from '../spec/index.js';

/** An SVID lives one hour unless the spec says otherwise (`identity.svidTtlMs`). */
export const DEFAULT_SVID_TTL_MS = 3_600_000;
/** Where the identity hop listens on loopback unless the spec says otherwise (`identity.hopPort`). */
export const DEFAULT_HOP_PORT = 7443;
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const SCHEME = 'spiffe://';
/** The last segment of a gateway's SPIFFE ID. */
export const GATEWAY_SEGMENT = '_gateway';

/** The settings identity runs with, defaults applied. */
export interface IdentityConfig {
  trustDomain: string;
  svidTtlMs: number;
  hopPort: number;
}

/** `identity:` of a spec with its defaults: the trust domain `<project>.cairn`, SVIDs of one hour. */
export function identityConfig(project: string, settings: IdentitySettings = {}): IdentityConfig {
  return {
    trustDomain: settings.trustDomain ?? `${project}.cairn`,
    svidTtlMs: settings.svidTtlMs ?? DEFAULT_SVID_TTL_MS,
    hopPort: settings.hopPort ?? DEFAULT_HOP_PORT,
  };
}

/** The SPIFFE ID of `service` in `env`. */
export function spiffeIdOf(trustDomain: string, env: string, service: string): string {
  if (!TRUST_DOMAIN.test(trustDomain)) {
    throw new ValidationError(`making a SPIFFE ID: "${trustDomain}" is not a trust domain`, [], {
      hint: 'set identity.trustDomain in cairn.yaml to lower-case letters, digits, ".", "-" and "_"',
    });
  }
  for (const part of [env, service]) {
    if (!SEGMENT.test(part))
      throw new ValidationError(`making a SPIFFE ID: "${part}" is not a path segment`, []);
  }
  return `${SCHEME}${trustDomain}/${env}/${service}`;
}

/**
 * The SPIFFE ID of an environment's gateway, `spiffe://<td>/<env>/_gateway`: of a workload's shape
 * (an app authorises it like a caller), but no service can have it — service names start with a letter.
 */
export function gatewaySpiffeId(trustDomain: string, env: string): string {
  const checked = spiffeIdOf(trustDomain, env, 'gateway');
  return `${checked.slice(0, checked.lastIndexOf('/'))}/${GATEWAY_SEGMENT}`;
}

/** A cairn workload ID taken apart; undefined for anything else (another shape, scheme or query). */
export function parseSpiffeId(id: string): { trustDomain: string; env: string; service: string } | undefined {
  if (!id.startsWith(SCHEME)) return undefined;
  const [trustDomain, env, service, ...rest] = id.slice(SCHEME.length).split('/');
  if (rest.length > 0 || !trustDomain || !env || !service) return undefined;
  if (!TRUST_DOMAIN.test(trustDomain) || !SEGMENT.test(env) || !SEGMENT.test(service)) return undefined;
  return { trustDomain, env, service };
}
