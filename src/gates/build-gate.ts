/**
 * The build door: a freshly built image meets the policies that name the `build` stage before it
 * gets its name (`<service>:latest`). Only policies run here — a build has no environment, so no
 * predecessor, approval, signature requirement or scan.
 */
import type { ImageStore } from '../artifact/index.js';
import type { LoadedSpec } from '../spec/index.js';
import type { PublicKeyInfo } from '../trust/index.js';
import { gatherEvidence } from './evidence.js';
import { policyGate } from './policy-gate.js';
import type { GateOutcome, GateRequest } from './types.js';

/** What the build stage is asked about one image. */
export function buildRequest(
  loaded: LoadedSpec,
  service: string,
  imageDigest: string,
  actor: string,
): GateRequest {
  const run = loaded.spec.services[service]?.run ?? {};
  return { service, env: '', stage: 'build', releaseId: '', imageDigest, run: { ...run }, actor };
}

/**
 * Evaluates the build-stage policies for `req`; `keys` are those whose attestations count (the key
 * the build signed with).
 */
export async function buildGate(
  images: ImageStore,
  loaded: LoadedSpec,
  req: GateRequest,
  keys: readonly PublicKeyInfo[],
): Promise<GateOutcome> {
  const evidence = await gatherEvidence(images, req.imageDigest, keys);
  const result = await policyGate(loaded, req, evidence, undefined);
  const failures = result?.failures ?? [];
  return {
    allowed: failures.length === 0,
    failures,
    warnings: result?.warnings ?? [],
    passed: result && failures.length === 0 && result.policies.length > 0 ? ['policy'] : [],
    policies: result?.policies ?? [],
    ...(result ? { inputsDigest: result.inputsDigest, decision: result.decision } : {}),
  };
}
