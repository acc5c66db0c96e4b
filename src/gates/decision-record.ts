/**
 * Recording gate outcomes: a denial is an audit entry naming every failed rule; an allow is a
 * signed decision attestation (in-toto, predicate `DECISION_PREDICATE_TYPE`) attached to the image
 * and listed for the release, plus an audit entry that names its digest. An auditor checks the
 * attestation offline with the workspace's public key (`cairn verify`, or any DSSE verifier).
 */
import type { ImageStore } from '../artifact/index.js';
import type { AuditLog } from '../audit/index.js';
import type { SqliteStateStore } from '../state/index.js';
import { addAttestation, imageStatement, type SigningKey } from '../trust/index.js';
import { failureLine } from './denial.js';
import { DECISION_PREDICATE_TYPE } from './evidence.js';
import type { GateOutcome, GateRequest } from './types.js';

/** The attestation kind of a forced rollback's decision; admission lets such a release start again. */
export const GATE_OVERRIDE_KIND = 'gate-override';

export interface DecisionPredicate {
  result: 'allowed' | 'overridden';
  stage: GateRequest['stage'];
  environment: string;
  service: string;
  release: string;
  actor: string;
  decidedAt: string;
  gates: string[];
  inputsDigest?: string;
  policies: GateOutcome['policies'];
  scan?: GateOutcome['scan'];
  /** Failed rules a forced rollback overrode. */
  overridden?: string[];
  warnings: string[];
  decision?: unknown;
}

/** The predicate of an allow (or a forced override) — pure. */
export function decisionPredicate(req: GateRequest, outcome: GateOutcome, now: Date): DecisionPredicate {
  return {
    result: outcome.allowed ? 'allowed' : 'overridden',
    stage: req.stage,
    environment: req.env,
    service: req.service,
    release: req.releaseId,
    actor: req.actor,
    decidedAt: now.toISOString(),
    gates: outcome.passed,
    ...(outcome.inputsDigest ? { inputsDigest: outcome.inputsDigest } : {}),
    policies: outcome.policies,
    ...(outcome.scan ? { scan: outcome.scan } : {}),
    ...(outcome.allowed ? {} : { overridden: outcome.failures.map(failureLine) }),
    warnings: outcome.warnings,
    ...(outcome.decision !== undefined ? { decision: outcome.decision } : {}),
  };
}

export interface RecordDeps {
  images: ImageStore;
  store: SqliteStateStore;
  audit: AuditLog;
  /** The workspace signing key; without one the decision is audited but not attested. */
  signingKey: () => SigningKey | undefined;
}

const subjectOf = (req: GateRequest) => ({
  service: req.service,
  env: req.env,
  release: req.releaseId,
  image: req.imageDigest,
});

export function recordDenial(
  deps: RecordDeps,
  req: GateRequest,
  outcome: GateOutcome,
  action = 'gate.denied',
): void {
  deps.store.transaction(() =>
    deps.audit.record({
      actor: req.actor,
      action,
      subject: subjectOf(req),
      reason: outcome.failures.map(failureLine).join('; '),
      detail: { stage: req.stage, failures: outcome.failures, policies: outcome.policies },
    }),
  );
}

/** Attaches the signed decision and audits it; returns the attestation's manifest digest, if signed. */
export async function recordDecision(
  deps: RecordDeps,
  req: GateRequest,
  outcome: GateOutcome,
  now = new Date(),
): Promise<string | undefined> {
  const predicate = decisionPredicate(req, outcome, now);
  const key = deps.signingKey();
  let attestation: string | undefined;
  if (key) {
    const image = await deps.images.resolve(req.imageDigest);
    const statement = imageStatement(req.service, req.imageDigest, DECISION_PREDICATE_TYPE, predicate);
    attestation = (await addAttestation(deps.images, image, statement, key)).digest;
  }
  deps.store.transaction((tx) => {
    if (attestation) {
      tx.addAttestation({
        releaseId: req.releaseId,
        kind: `${outcome.allowed ? 'gate-decision' : GATE_OVERRIDE_KIND} ${req.stage} ${req.env}`,
        digest: attestation,
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        createdAt: now.toISOString(),
      });
    }
    deps.audit.record({
      actor: req.actor,
      action: outcome.allowed ? 'gate.allowed' : 'gate.overridden',
      subject: subjectOf(req),
      reason: outcome.allowed
        ? `${req.stage} gates passed: ${outcome.passed.join(', ') || 'none asked'}`
        : `forced past ${outcome.failures.length} failed rule(s): ${outcome.failures.map(failureLine).join('; ')}`,
      detail: {
        stage: req.stage,
        gates: outcome.passed,
        policies: outcome.policies,
        ...(outcome.inputsDigest ? { inputsDigest: outcome.inputsDigest } : {}),
        ...(outcome.scan ? { scan: outcome.scan } : {}),
        ...(attestation ? { attestation } : {}),
      },
    });
  });
  return attestation;
}
