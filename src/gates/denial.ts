/** How a denial reads: one line per failed rule, the same in the CLI, the API and the audit log. */
import { GateDeniedError, shortDigest } from '../lib/index.js';
import type { GateFailure, GateOutcome, GateRequest } from './types.js';

export function failureLine(f: GateFailure): string {
  return `${f.gate} ${f.rule}: ${f.message}${f.field ? ` (${f.field})` : ''}`;
}

const HINTS: Record<GateFailure['gate'], string> = {
  predecessor: 'deploy it to the predecessor environment first, then `cairn promote`',
  approval: 'add --approve',
  signature:
    'sign the image with a key the environment trusts (`cairn sign IMAGE --key KEY`) and check with `cairn verify`',
  scan: 'upgrade the package, or accept the finding in cairn.yaml under vuln.ignore with a reason and an expiry',
  policy: 'fix the image or release the policy names, or change the policy in the repository (it is code)',
};

/** The error (exit 3) that lists every failed rule of `outcome`. */
export function denialError(req: GateRequest, outcome: GateOutcome): GateDeniedError {
  const lines = outcome.failures.map((f) => `  - ${failureLine(f)}`);
  const gates = [...new Set(outcome.failures.map((f) => f.gate))];
  const what =
    req.stage === 'build'
      ? `building ${req.service} (${shortDigest(req.imageDigest)}), so it is not tagged`
      : `${verb(req)} ${req.releaseId} (${shortDigest(req.imageDigest)}) to ${req.env}`;
  return new GateDeniedError(`${what}: ${outcome.failures.length} gate rule(s) failed\n${lines.join('\n')}`, {
    hint: gates.map((g) => HINTS[g]).join('; '),
  });
}

function verb(req: GateRequest): string {
  if (req.stage === 'admission') return 'admitting';
  return req.stage === 'promote' ? 'promoting' : 'deploying';
}
