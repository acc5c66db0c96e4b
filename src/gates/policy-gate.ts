/**
 * The policy gate: the CEL policies an environment lists (`environments.<env>.policies`), those
 * whose `match` names this service, environment and stage, evaluated against the one documented
 * input built from the evidence. A policy file that cannot be read or compiled denies: a gate
 * never fails open. Policies run in a worker thread under a deadline (`PolicyWorker`): one that
 * does not finish denies, named, and cannot stall the control plane.
 */
import { resolve } from 'node:path';
import { formatDiagnostic, sha256Digest } from '../lib/index.js';
import {
  type CompiledPolicy,
  compilePolicyFile,
  componentsDigest,
  imageFields,
  inputsDigestOf,
  type PolicyBatch,
  type PolicyBatchResult,
  type PolicyInput,
  PolicyWorker,
  policyMatches,
  provenanceFields,
  sbomFields,
} from '../policy/index.js';
import { type LoadedSpec, readPolicyFile } from '../spec/index.js';
import type { Evidence } from './evidence.js';
import type { PolicyResult, ScanResult } from './gatekeeper.js';
import type { GateFailure, GateRequest } from './types.js';

interface CompiledFile {
  digest: string;
  text: string;
  policies: CompiledPolicy[];
  problems: string[];
}

const compiled = new Map<string, CompiledFile>();
let worker: PolicyWorker | undefined;
/** Digest of each image's SBOM components (an image never changes; neither does its SBOM attestation). */
const sbomDigests = new Map<string, string>();

/** The compiled policies of a file, cached by content; problems instead when it does not compile. */
export function policiesOf(
  root: string,
  path: string,
  shownAs: string,
): Pick<CompiledFile, 'policies' | 'problems'> & Partial<CompiledFile> {
  let text: string;
  try {
    // Read again at every door: inside the project folder, not too big, not swapped for a symlink.
    text = readPolicyFile(root, path, shownAs);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { policies: [], problems: [`cannot read ${shownAs}: ${why}`] };
  }
  const digest = sha256Digest(text);
  const hit = compiled.get(path);
  if (hit?.digest === digest) return hit;
  const result = compilePolicyFile(text, shownAs);
  const entry = {
    digest,
    text,
    policies: result.policies,
    problems: result.diagnostics.map(formatDiagnostic),
  };
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
  const batch: Omit<PolicyBatch, 'input' | 'sbomDigest'> = { files: [], policies: [] };
  const matching: CompiledPolicy[] = [];
  for (const file of files) {
    const { policies, problems, digest, text } = policiesOf(loaded.root, resolve(loaded.dir, file), file);
    for (const p of problems) failures.push({ gate: 'policy', rule: file, message: p });
    const here = policies.filter((p) =>
      policyMatches(p, { service: req.service, env: req.env, stage: req.stage }),
    );
    if (here.length === 0 || digest === undefined || text === undefined) continue;
    matching.push(...here);
    batch.files.push({ digest, file, text });
    batch.policies.push(...here.map((p) => ({ digest, name: p.definition.name })));
  }
  const input = policyInput(req, evidence, scan);
  const sbomKey = `${req.imageDigest} ${req.env} ${input.sbom.components.length}`;
  let sbomDigest = sbomDigests.get(sbomKey);
  if (!sbomDigest) {
    if (sbomDigests.size > 1_000) sbomDigests.clear();
    sbomDigest = componentsDigest(input.sbom.components);
    sbomDigests.set(sbomKey, sbomDigest);
  }
  worker ??= new PolicyWorker();
  const outcome = await worker.evaluate({ ...batch, input, sbomDigest });
  if (!('evaluation' in outcome)) {
    failures.push(unfinished(outcome));
    return {
      failures,
      warnings: [],
      policies: matching.map((p) => ({ name: p.definition.name, digest: p.digest, file: p.file })),
      inputsDigest: inputsDigestOf(input, sbomDigest),
      decision: outcome,
    };
  }
  const result = outcome.evaluation;
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

/** A batch that timed out or whose worker failed: a denial, never an allow. */
function unfinished(outcome: Exclude<PolicyBatchResult, { evaluation: unknown }>): GateFailure {
  if ('timedOut' in outcome) {
    const { policy, deadlineMs } = outcome.timedOut;
    return {
      gate: 'policy',
      rule: policy,
      message: `policy ${policy} did not finish within ${deadlineMs / 1000}s and was stopped; make it cheaper (look packages up in sbom.packages instead of walking sbom.components)`,
    };
  }
  return { gate: 'policy', rule: 'policy-worker', message: `evaluating the policies: ${outcome.failed}` };
}
