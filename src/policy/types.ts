/** Release policies as code: shaped like a Kubernetes ValidatingAdmissionPolicy, written in CEL. */

/** The doors a policy can hold: `admission` is every instance start, whoever asks for it. */
export type PolicyStage = 'build' | 'deploy' | 'promote' | 'admission';

export const POLICY_STAGES: readonly PolicyStage[] = ['build', 'deploy', 'promote', 'admission'];

export interface PolicyValidation {
  expression: string;
  message?: string;
  /** A CEL string expression for the message; wins over `message` when it evaluates. */
  messageExpression?: string;
  /** A machine-readable reason, as in Kubernetes (`Forbidden`, `Invalid`, …). */
  reason: string;
}

export interface PolicyDefinition {
  name: string;
  /** Empty lists match everything. */
  match: { services: string[]; environments: string[]; stages: PolicyStage[] };
  /** `Fail`: an expression that errors denies. `Ignore`: it is recorded as a warning, explicitly. */
  failurePolicy: 'Fail' | 'Ignore';
  variables: Array<{ name: string; expression: string }>;
  validations: PolicyValidation[];
}

/** A policy as loaded from its file, with where it came from and its content digest. */
export interface PolicySource {
  definition: PolicyDefinition;
  file: string;
  /** sha256 of the policy's canonical JSON: what a decision attestation names. */
  digest: string;
}
