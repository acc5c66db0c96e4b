/**
 * Whether one call between services may pass the identity hop. Pure: the caller's verified SVID,
 * what the state store says of the instance it names, and the callee. The order of the checks is
 * the order of the refusals a user reads: who are you, are you still alive, may you call this.
 */
import type { VerifiedSvid } from './verify-svid.js';

/** What the control plane knows of the instance an SVID names (undefined: no such instance). */
export interface CallerRecord {
  service: string;
  env: string;
  release: string;
  /** Whether it may hold an identity now: live, not quarantined, not drifted. */
  live: boolean;
  state: string;
  /** Its release's `run.network.allow`: the services it may call. */
  allow: readonly string[];
}

export type CallDecision = { ok: true } | { ok: false; status: 403 | 404; reason: string };

/** Decides a call of `callee` by the holder of `svid`. */
export function checkCall(
  svid: VerifiedSvid,
  caller: CallerRecord | undefined,
  callee: string,
  calleeExists: boolean,
): CallDecision {
  if (!caller) return refuse(403, `SVID names instance ${svid.instance ?? '(none)'}, which cairn never ran`);
  if (caller.service !== svid.service || caller.env !== svid.env || caller.release !== svid.release) {
    return refuse(
      403,
      `SVID of ${svid.spiffeId} does not match instance ${svid.instance} (${caller.service}@${caller.env})`,
    );
  }
  if (!caller.live)
    return refuse(403, `instance ${svid.instance} is ${caller.state}: its identity has ended`);
  if (!caller.allow.includes(callee)) {
    return refuse(
      403,
      `${svid.service} may not call ${callee}: it is not in ${svid.service}'s run.network.allow`,
    );
  }
  if (!calleeExists) return refuse(404, `service ${callee} has no healthy instance in ${svid.env}`);
  return { ok: true };
}

const refuse = (status: 403 | 404, reason: string): CallDecision => ({ ok: false, status, reason });
