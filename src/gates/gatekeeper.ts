/**
 * The gatekeeper: asks an environment's gates about one release, in order — signature, scan,
 * policies — and returns every failure at once. Deploy, promote, rollback and admission all ask it,
 * so a rule holds at every door. It reads evidence from the image store and changes nothing;
 * recording denials and decisions is the caller's (see `decision-record.ts`).
 */
import type { ImageStore } from '../artifact/index.js';
import type { LoadedSpec } from '../spec/index.js';
import { trustedKeysFor } from '../trust/index.js';
import { type Evidence, gatherEvidence } from './evidence.js';
import { signatureFailures } from './signature-gate.js';
import type { GateFailure, GateName, GateOutcome, GateRequest } from './types.js';

/** What the scan gate found: failures, and the summary the policy input and the decision carry. */
export interface ScanResult {
  failures: GateFailure[];
  warnings: string[];
  summary: NonNullable<GateOutcome['scan']>;
  /** The scan as the policy input sees it. */
  input: unknown;
}

export interface PolicyResult {
  failures: GateFailure[];
  warnings: string[];
  policies: GateOutcome['policies'];
  inputsDigest: string;
  decision: unknown;
}

export interface GatekeeperDeps {
  images: ImageStore;
  /** Undefined when the environment asks for no scan (no `maxSeverity`). */
  scan: (loaded: LoadedSpec, req: GateRequest, evidence: Evidence) => Promise<ScanResult | undefined>;
  /** Undefined when no policy of the environment matches. */
  policies: (
    loaded: LoadedSpec,
    req: GateRequest,
    evidence: Evidence,
    scan: ScanResult | undefined,
  ) => Promise<PolicyResult | undefined>;
}

export class Gatekeeper {
  constructor(private readonly deps: GatekeeperDeps) {}

  /** Every gate of `req.env` for the release; `before` are failures the caller found (predecessor, approval). */
  async evaluate(loaded: LoadedSpec, req: GateRequest, before: GateFailure[] = []): Promise<GateOutcome> {
    const failures = [...before];
    const warnings: string[] = [];
    const passed: GateName[] = [];
    const asked = (gate: GateName, found: GateFailure[] | undefined) => {
      if (!found) return;
      failures.push(...found);
      if (found.length === 0) passed.push(gate);
    };
    asked('signature', await signatureFailures(this.deps.images, loaded, req.env, req.imageDigest));
    const evidence = await gatherEvidence(this.deps.images, req.imageDigest, trustedKeysFor(loaded, req.env));
    const scan = await this.deps.scan(loaded, req, evidence);
    asked('scan', scan?.failures);
    warnings.push(...(scan?.warnings ?? []));
    const policy = await this.deps.policies(loaded, req, evidence, scan);
    asked('policy', policy?.failures);
    warnings.push(...(policy?.warnings ?? []));
    return {
      allowed: failures.length === 0,
      failures,
      warnings,
      passed,
      policies: policy?.policies ?? [],
      ...(policy ? { inputsDigest: policy.inputsDigest, decision: policy.decision } : {}),
      ...(scan ? { scan: scan.summary } : {}),
    };
  }
}
