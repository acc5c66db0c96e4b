/** The vocabulary of release gates: which door is asked, what failed, and the outcome. */

/** Where a gate is asked: `admission` is every instance start, whoever asks for it. */
export type GateStage = 'build' | 'deploy' | 'promote' | 'admission';

export type GateName = 'predecessor' | 'approval' | 'signature' | 'scan' | 'policy';

/** One failed rule, with what an operator needs to fix it. */
export interface GateFailure {
  gate: GateName;
  /** The rule: a check name, a policy name and validation index, an advisory id. */
  rule: string;
  message: string;
  /** The input field or expression that failed, when known. */
  field?: string;
}

export interface GateRequest {
  service: string;
  env: string;
  stage: GateStage;
  releaseId: string;
  imageDigest: string;
  /** The release's run settings (`release.config.run`). */
  run: Record<string, unknown>;
  actor: string;
}

/** What one evaluation of an environment's gates found. */
export interface GateOutcome {
  allowed: boolean;
  failures: GateFailure[];
  warnings: string[];
  /** The gates that were asked and passed (for the decision record). */
  passed: GateName[];
  /** sha256 of the canonical policy input, when policies were evaluated. */
  inputsDigest?: string;
  policies: Array<{ name: string; digest: string; file: string }>;
  /** The full policy decision (validations and outcomes), when policies were evaluated. */
  decision?: unknown;
  /** Findings summary, when the scan gate was asked. */
  scan?: { dbAsOf?: string; blocking: string[]; accepted: string[]; reused: boolean };
}
