import { join } from 'node:path';
import { resolveImage, workspaceStore } from '../../artifact/index.js';
import { gatherEvidence, sbomPurls } from '../../gates/index.js';
import { isDigest, NotFoundError } from '../../lib/index.js';
import type { VulnSeverity } from '../../spec/index.js';
import { workspaceFor } from '../../state/index.js';
import { trustedKeysFor } from '../../trust/index.js';
import {
  cyclonedxVex,
  judgeFindings,
  SEVERITIES,
  scanPurls,
  VULN_DB_FILE,
  VulnDb,
} from '../../vuln/index.js';
import { type Command, FILE_OPTION, UsageError } from '../command.js';
import { EXIT_DENIED, EXIT_OK } from '../errors.js';
import { specIfPresent, workspaceAnchor } from '../workspace-anchor.js';

const USAGE = 'cairn scan IMAGE [--env ENV | --max-severity SEV] [-f FILE] [--output text|json|cyclonedx]';

export const command: Command = {
  name: 'scan',
  summary: "Scan an image's SBOM against the local OSV database and print the findings.",
  usage: USAGE,
  description: `Reads the image's CycloneDX SBOM attestation (with --env, only one signed by a key that
environment trusts), looks every package URL up in .cairn/vuln.db (import it with
\`cairn vuln db import\`), and prints each finding: advisory id, aliases, package, installed and
fixed versions, severity from the CVSS v3 vector. Findings accepted in cairn.yaml (vuln.ignore)
are marked with their reason until they expire. --output cyclonedx writes a CycloneDX 1.6
vulnerabilities (VEX) document. Exit 3 when a finding that is not accepted is above the
environment's maxSeverity (or --max-severity), 0 otherwise, 1 on bad input.`,
  options: {
    env: { type: 'string', value: 'ENV', description: "Use this environment's trust keys and maxSeverity." },
    'max-severity': {
      type: 'string',
      value: 'SEV',
      description: 'Fail above this severity: none, low, medium, high, critical.',
    },
    file: FILE_OPTION,
    output: { type: 'string', short: 'o', value: 'text|json|cyclonedx', description: 'Output format.' },
  },
  readsState: true,
  outputs: ['cyclonedx'],
  async run(ctx) {
    const [image] = ctx.args;
    if (!image || ctx.args.length > 1) throw new UsageError('scanning: name exactly one IMAGE', USAGE);
    const anchor = workspaceAnchor(ctx.options.file as string | undefined, ctx.cwd, ctx.env);
    const loaded = specIfPresent(anchor);
    const envName = ctx.options.env as string | undefined;
    if (envName && !loaded?.spec.environments[envName]) {
      throw new UsageError(`scanning for ${envName}: cairn.yaml has no such environment`, USAGE);
    }
    const maxText =
      (ctx.options['max-severity'] as string | undefined) ??
      (envName ? loaded!.spec.environments[envName]!.maxSeverity : undefined);
    if (maxText !== undefined && !(SEVERITIES as readonly string[]).includes(maxText)) {
      throw new UsageError(
        `reading --max-severity: "${maxText}" is not one of ${SEVERITIES.join(', ')}`,
        USAGE,
      );
    }
    const max = maxText as VulnSeverity | undefined;
    const store = workspaceStore(anchor, ctx.env);
    const digest = isDigest(image) ? image : (await resolveImage(store, image, loaded?.spec)).digest;
    const keys = envName && loaded ? trustedKeysFor(loaded, envName) : [];
    const evidence = await gatherEvidence(store, digest, keys);
    if (!evidence.sbom) {
      throw new NotFoundError(
        `scanning ${image}: it has no SBOM attestation${keys.length ? ` signed by a key ${envName} trusts` : ''}`,
        {
          hint: 'images from `cairn build` carry one; for another image attach one with `cairn sign IMAGE --attest`',
        },
      );
    }
    const db = VulnDb.open(join(workspaceFor(anchor, ctx.env).root, VULN_DB_FILE));
    let dbAsOf: string;
    let report: ReturnType<typeof scanPurls>;
    try {
      dbAsOf = db.meta()?.asOf ?? '';
      report = scanPurls(db, sbomPurls(evidence.sbom), dbAsOf);
    } finally {
      db.close();
    }
    // Acceptances scoped to services match the service the provenance says the image was built for.
    const provenance = evidence.provenance as
      | { buildDefinition?: { externalParameters?: { service?: string } } }
      | undefined;
    const service = provenance?.buildDefinition?.externalParameters?.service ?? '';
    const now = new Date();
    const judged = judgeFindings(report.findings, loaded?.spec.vuln?.ignore ?? [], service, max, now);
    const blocking = judged.filter((f) => f.blocking);
    if (ctx.output === 'cyclonedx') {
      ctx.stdout(`${JSON.stringify(cyclonedxVex({ name: image, digest }, judged, dbAsOf, now), null, 2)}\n`);
    } else if (ctx.output === 'json') {
      ctx.stdout(
        `${JSON.stringify({ image: digest, dbAsOf, components: report.components, maxSeverity: max ?? null, findings: judged }, null, 2)}\n`,
      );
    } else {
      const rows = judged.map((f) => {
        const mark = f.blocking ? 'BLOCK' : f.accepted ? 'accept' : '';
        const fix = f.fixed ?? '-';
        const note = f.acceptance
          ? `  ${f.accepted ? 'accepted until' : 'acceptance EXPIRED'} ${f.acceptance.expires}: ${f.acceptance.reason}`
          : '';
        return `${mark.padEnd(7)}${f.id.padEnd(22)}${`${f.severity}${f.score !== undefined ? ` ${f.score}` : ''}`.padEnd(14)}${f.package} ${f.installed} → ${fix}${f.aliases.length ? `  (${f.aliases.join(', ')})` : ''}${note}`;
      });
      ctx.stdout(
        `${rows.join('\n')}${rows.length ? '\n' : ''}${judged.length} finding(s) in ${report.components} component(s) of ${digest}; database as of ${dbAsOf}${max ? `; ${blocking.length} above ${max}` : ''}\n`,
      );
    }
    return blocking.length > 0 ? EXIT_DENIED : EXIT_OK;
  },
};
