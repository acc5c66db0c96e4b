/**
 * The policy gate: the CEL policies an environment lists (`environments.<env>.policies`), those
 * whose `match` names this service, environment and stage, evaluated against the one documented
 * input built from the evidence. A policy file that cannot be read or compiled denies: a gate
 * never fails open.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatDiagnostic, sha256Digest } from '../lib/index.js';
import {
  type CompiledPolicy,
  compilePolicyFile,
  componentsDigest,
  evaluatePolicies,
  imageFields,
  type PolicyInput,
  policyMatches,
  provenanceFields,
  sbomFields,
} from '../policy/index.js';
import type { LoadedSpec } from '../spec/index.js';
import type { Evidence } from './evidence.js';
import type { PolicyResult, ScanResult } from './gatekeeper.js';
import type { GateFailure, GateRequest } from './types.js';

const compiled = new Map<string, { digest: string; policies: CompiledPolicy[]; problems: string[] }>();
/** Digest of each image's SBOM components (an image never changes; neither does its SBOM attestation). */
const sbomDigests = new Map<string, string>();

/** The compiled policies of a file, cached by content; problems instead when it does not compile. */
export function policiesOf(
  path: string,
  shownAs: string,
): { policies: CompiledPolicy[]; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return {
      policies: [],
      problems: [`cannot read ${shownAs}: ${(error as NodeJS.ErrnoException).code ?? 'failed'}`],
    };
  }
  const digest = sha256Digest(text);
  const hit = compiled.get(path);
  if (hit?.digest === digest) return hit;
  const result = compilePolicyFile(text, shownAs);
  const entry = { digest, policies: result.policies, problems: result.diagnostics.map(formatDiagnostic) };
  compiled.set(path, entry);
  return entry;
}

export function policyInput(req: GateRequest, evidence: Evidence, scan: ScanResult | undefined): PolicyInput {
  return {
    service: req.service,
    environment: req.env,
    stage: req.stage,
    actor: req.actor,
    image: imageFields(req.imageDigest, evidence.config),
    release: { id: req.releaseId, run: req.run },
    sbom: sbomFields(evidence.sbom),
    provenance: provenanceFields(evidence.provenance),
    signatures: evidence.signatures,
    scan: (scan?.input as PolicyInput['scan'] | undefined) ?? {
      present: false,
      dbAsOf: '',
      maxSeverity: 'none',
      findings: [],
    },
  };
}

/**
 * The policy files asked at a door: the environment's, or at a build (which belongs to no
 * environment) every file any environment lists, each once.
 */
export function policyFilesFor(loaded: LoadedSpec, req: Pick<GateRequest, 'env' | 'stage'>): string[] {
  if (req.stage !== 'build') return loaded.spec.environments[req.env]?.policies ?? [];
  return [...new Set(Object.values(loaded.spec.environments).flatMap((e) => e.policies ?? []))];
}

/** The policy gate, as the gatekeeper asks it. */
export async function policyGate(
  loaded: LoadedSpec,
  req: GateRequest,
  evidence: Evidence,
  scan: ScanResult | undefined,
): Promise<PolicyResult | undefined> {
  const files = policyFilesFor(loaded, req);
  if (files.length === 0) return undefined;
  const failures: GateFailure[] = [];
  const matching: CompiledPolicy[] = [];
  for (const file of files) {
    const { policies, problems } = policiesOf(resolve(loaded.dir, file), file);
    for (const p of problems) failures.push({ gate: 'policy', rule: file, message: p });
    matching.push(
      ...policies.filter((p) => policyMatches(p, { service: req.service, env: req.env, stage: req.stage })),
    );
  }
  const input = policyInput(req, evidence, scan);
  const sbomKey = `${req.imageDigest} ${req.env} ${input.sbom.components.length}`;
  let sbomDigest = sbomDigests.get(sbomKey);
  if (!sbomDigest) {
    if (sbomDigests.size > 1_000) sbomDigests.clear();
    sbomDigest = componentsDigest(input.sbom.components);
    sbomDigests.set(sbomKey, sbomDigest);
  }
  const result = evaluatePolicies(matching, input, { sbomDigest });
  for (const v of result.violations) {
    failures.push({
      gate: 'policy',
      rule: `${v.policy}[${v.validation}]`,
      message: `${v.message} (${v.reason})`,
      field: v.expression,
    });
  }
  return {
    failures,
    warnings: result.warnings,
    policies: result.results.map((r) => ({ name: r.policy, digest: r.digest, file: r.file })),
    inputsDigest: result.inputsDigest,
    decision: result.results,
  };
}
