import { resolve } from 'node:path';
import { type AuditEntry, formatEntryLine, openAuditLog } from '../../audit/index.js';
import { isDigest, NotFoundError } from '../../lib/index.js';
import { findSpecFile, SPEC_FILE } from '../../spec/index.js';
import {
  type AttestationRecord,
  type InstanceRecord,
  openStateStore,
  type ReleaseRecord,
  type SqliteStateStore,
  workspaceFor,
} from '../../state/index.js';
import { type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';
import { EXIT_OK } from '../errors.js';

const USAGE = 'cairn trace ID [--output json]   (ID: ins-…, rel-… or sha256:…)';
const NONE = 'none recorded';

/** The chain from what runs back to where it came from, and every audit entry on the way. */
interface Trace {
  instance?: InstanceRecord;
  releases: ReleaseRecord[];
  imageDigest?: string;
  signatures: AttestationRecord[];
  provenance: AttestationRecord[];
  otherAttestations: AttestationRecord[];
  sourceCommits: string[];
  entries: AuditEntry[];
}

function resolveStart(
  store: SqliteStateStore,
  id: string,
): Pick<Trace, 'instance' | 'releases' | 'imageDigest'> {
  if (id.startsWith('ins-')) {
    const instance = store.getInstance(id);
    if (!instance) throw notFound(id, 'instance');
    const release = store.getRelease(instance.releaseId);
    return { instance, releases: release ? [release] : [], imageDigest: release?.imageDigest };
  }
  if (id.startsWith('rel-')) {
    const release = store.getRelease(id);
    if (!release) throw notFound(id, 'release');
    return { releases: [release], imageDigest: release.imageDigest };
  }
  if (isDigest(id))
    return { releases: store.listReleases().filter((r) => r.imageDigest === id), imageDigest: id };
  throw new UsageError(
    `reading ID: "${id}" is not an instance (ins-…), release (rel-…) or image digest (sha256:…)`,
    USAGE,
  );
}

function notFound(id: string, what: string): NotFoundError {
  return new NotFoundError(`tracing ${id}: no ${what} with this id in the state store`, {
    hint: 'list them with `cairn status` or `cairn audit log`; ids are printed when they are created',
  });
}

function trace(store: SqliteStateStore, keyDir: string, id: string): Trace {
  const start = resolveStart(store, id);
  const attestations = start.releases.flatMap((r) => store.listAttestations(r.id));
  const is = (a: AttestationRecord, word: string): boolean => a.kind.toLowerCase().includes(word);
  const touching = [
    ...(start.instance ? [{ instance: start.instance.id }] : []),
    ...start.releases.map((r) => ({ release: r.id })),
    ...(start.imageDigest ? [{ image: start.imageDigest }] : []),
  ];
  const audit = openAuditLog(store, { keyDir });
  const byIndex = new Map<number, AuditEntry>();
  for (const t of touching) for (const e of audit.list({ touching: t })) byIndex.set(e.index, e);
  return {
    ...start,
    signatures: attestations.filter((a) => is(a, 'sig')),
    provenance: attestations.filter((a) => is(a, 'provenance') || is(a, 'slsa')),
    otherAttestations: attestations.filter((a) => !is(a, 'sig') && !is(a, 'provenance') && !is(a, 'slsa')),
    sourceCommits: [
      ...new Set(start.releases.map((r) => r.specCommit).filter((c): c is string => Boolean(c))),
    ],
    entries: [...byIndex.values()].sort((a, b) => a.index - b.index),
  };
}

const list = (items: string[]): string => (items.length ? items.join(', ') : NONE);
const attest = (a: AttestationRecord): string => `${a.kind} ${a.digest} (${a.createdAt})`;

function render(t: Trace): string {
  const lines: string[] = [];
  if (t.instance) {
    const i = t.instance;
    lines.push(
      `instance    ${i.id}  ${i.service}@${i.env}  ${i.state}  driver ${i.driver}${i.endpoint ? `  ${i.endpoint}` : ''}`,
    );
  }
  for (const r of t.releases)
    lines.push(`release     ${r.id}  ${r.service}  created ${r.createdAt}  config ${r.configDigest}`);
  if (t.releases.length === 0) lines.push(`release     ${NONE}`);
  lines.push(`image       ${t.imageDigest ?? NONE}`);
  lines.push(`signature   ${list(t.signatures.map(attest))}`);
  lines.push(`attestation ${list(t.otherAttestations.map(attest))}`);
  lines.push(`provenance  ${list(t.provenance.map(attest))}`);
  const sources = t.releases.map((r) => r.sourceDigest).filter((s): s is string => Boolean(s));
  lines.push(`source      commit ${list(t.sourceCommits)}; inputs ${list(sources)}`);
  lines.push('', `audit entries (${t.entries.length}):`, ...t.entries.map((e) => `  ${formatEntryLine(e)}`));
  return `${lines.join('\n')}\n`;
}

function openStore(ctx: CommandContext): { store: SqliteStateStore; keyDir: string } {
  let file: string;
  try {
    file = findSpecFile(ctx.options.file as string | undefined, ctx.cwd);
  } catch (error) {
    if (!ctx.env.CAIRN_HOME) throw error;
    file = resolve(ctx.cwd, SPEC_FILE);
  }
  const ws = workspaceFor(file, ctx.env);
  return { store: openStateStore(ws), keyDir: ws.keys };
}

export const command: Command = {
  name: 'trace',
  summary:
    'Trace an instance, release or image back to its signature, provenance and source, with its audit entries.',
  usage: USAGE,
  description: `Follows the chain instance → release → image digest → signature and attestations → provenance →
source commit, reading the state store only, and lists every audit entry whose subject is one of them.
A link the state store does not hold (an unsigned image, a release without provenance) reads "none recorded".`,
  options: { file: FILE_OPTION, output: OUTPUT_OPTION },
  readsState: true,
  run(ctx) {
    const id = ctx.args[0];
    if (!id || ctx.args.length > 1)
      throw new UsageError('reading ID: give exactly one instance, release or image id', USAGE);
    const { store, keyDir } = openStore(ctx);
    try {
      const t = trace(store, keyDir, id);
      ctx.stdout(ctx.output === 'json' ? `${JSON.stringify(t, null, 2)}\n` : render(t));
    } finally {
      store.close();
    }
    return EXIT_OK;
  },
};
