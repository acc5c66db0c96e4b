/**
 * Evaluating compiled policies against one input: which policies match, each validation's
 * result, and what failed — with the cost bound checked first so no expression runs past the
 * budget. An expression that errors (or would exceed the budget) denies under `failurePolicy:
 * Fail` and is recorded as a warning under `Ignore`: a gate never fails open silently.
 */
import { canonicalJson, sha256Digest } from '../lib/index.js';
import type { CompiledPolicy, Program } from './compile.js';
import { boundsOf, COST_LIMIT, costOf, type SizeBounds } from './cost.js';
import { celInput, type PolicyInput } from './input.js';
import type { PolicyStage } from './types.js';

export interface PolicyViolation {
  policy: string;
  /** Index of the validation in the policy (0-based). */
  validation: number;
  reason: string;
  message: string;
  expression: string;
}

export interface PolicyResultRecord {
  policy: string;
  digest: string;
  file: string;
  failurePolicy: 'Fail' | 'Ignore';
  validations: Array<{ result: 'pass' | 'fail' | 'error'; message?: string }>;
}

export interface PolicyEvaluation {
  violations: PolicyViolation[];
  warnings: string[];
  results: PolicyResultRecord[];
  /** What the decision attestation names: see `inputsDigestOf`. */
  inputsDigest: string;
}

/** Does the policy apply to this service, environment and stage? Empty match lists match all. */
export function policyMatches(
  p: CompiledPolicy,
  at: { service: string; env: string; stage: PolicyStage },
): boolean {
  const { services, environments, stages } = p.definition.match;
  if (!(services.length === 0 || services.includes(at.service))) return false;
  // A build belongs to no environment, and only policies that name the stage run at it: a policy
  // written for releases (no stages listed) must not fail a developer's build.
  if (at.stage === 'build') return stages.includes('build');
  return (
    (environments.length === 0 || environments.includes(at.env)) &&
    (stages.length === 0 || stages.includes(at.stage))
  );
}

class BudgetError extends Error {}

function run(program: Program, context: Record<string, unknown>, bounds: SizeBounds): unknown {
  const cost = costOf(program.ast as never, bounds);
  if (cost > COST_LIMIT) {
    throw new BudgetError(
      `cost limit exceeded: up to ${cost.toExponential(1)} units for this input, limit ${COST_LIMIT.toExponential(0)}`,
    );
  }
  return program(context);
}

const reasonOf = (error: unknown) =>
  ((error as { summary?: string }).summary ?? (error as Error).message).split('\n')[0];

/** sha256 of the canonical JSON of SBOM components: the part of the input digest that is per image. */
export function componentsDigest(components: PolicyInput['sbom']['components']): string {
  return sha256Digest(canonicalJson(components));
}

/**
 * The digest a decision names: sha256 of the canonical JSON of the input with `sbom.components`
 * replaced by `componentsDigest` of them (an SBOM is hashed once per image, not once per door).
 */
export function inputsDigestOf(
  input: PolicyInput,
  sbomDigest = componentsDigest(input.sbom.components),
): string {
  return sha256Digest(canonicalJson({ ...input, sbom: { ...input.sbom, components: sbomDigest } }));
}

/**
 * Evaluates every policy (callers pass the matching ones) against `input`. `onPolicy` is told the
 * index of each policy as it starts (the worker publishes it, so a deadline names the slow one).
 */
export function evaluatePolicies(
  policies: readonly CompiledPolicy[],
  input: PolicyInput,
  options: { sbomDigest?: string; onPolicy?: (index: number) => void } = {},
): PolicyEvaluation {
  const inputsDigest = inputsDigestOf(input, options.sbomDigest);
  const base = celInput(input, options.sbomDigest);
  const bounds = boundsOf(input);
  const violations: PolicyViolation[] = [];
  const warnings: string[] = [];
  const results: PolicyResultRecord[] = [];
  for (const [index, p] of policies.entries()) {
    options.onPolicy?.(index);
    const record: PolicyResultRecord = {
      policy: p.definition.name,
      digest: p.digest,
      file: p.file,
      failurePolicy: p.definition.failurePolicy,
      validations: [],
    };
    results.push(record);
    const failed = (i: number, error: unknown) => {
      const why = reasonOf(error);
      record.validations[i] = { result: 'error', message: why };
      const expression = p.validations[i]?.expression ?? p.variables[0]?.expression ?? '';
      if (p.definition.failurePolicy === 'Ignore') {
        warnings.push(
          `policy ${p.definition.name}: validation ${i} could not be evaluated (${why}); ignored by failurePolicy: Ignore`,
        );
      } else {
        violations.push({
          policy: p.definition.name,
          validation: i,
          reason: 'EvaluationError',
          message: `could not be evaluated: ${why}`,
          expression,
        });
      }
    };
    const variables: Record<string, unknown> = {};
    const context = { ...base, variables };
    let broken: unknown;
    for (const v of p.variables) {
      try {
        variables[v.name] = run(v.program, context, bounds);
      } catch (error) {
        broken = new Error(`variable ${v.name}: ${reasonOf(error)}`);
        break;
      }
    }
    for (const [i, v] of p.validations.entries()) {
      if (broken) {
        failed(i, broken);
        continue;
      }
      let ok: unknown;
      try {
        ok = run(v.program, context, bounds);
      } catch (error) {
        failed(i, error);
        continue;
      }
      if (ok === true) {
        record.validations[i] = { result: 'pass' };
        continue;
      }
      if (ok !== false) {
        failed(i, new Error(`the expression gave ${typeof ok}, not a bool`));
        continue;
      }
      let message = v.message ?? `failed expression: ${v.expression}`;
      if (v.messageProgram) {
        try {
          const m = run(v.messageProgram, context, bounds);
          if (typeof m === 'string' && m !== '') message = m;
        } catch {
          // The static message (or the expression) stands in, as in Kubernetes.
        }
      }
      record.validations[i] = { result: 'fail', message };
      violations.push({
        policy: p.definition.name,
        validation: i,
        reason: v.reason,
        message,
        expression: v.expression,
      });
    }
  }
  return { violations, warnings, results, inputsDigest };
}
