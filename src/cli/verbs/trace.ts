import { resolve } from 'node:path';
import { openImageStore } from '../../artifact/index.js';
import { type AuditEntry, formatEntryLine, openAuditLog } from '../../audit/index.js';
import { isDigest, NotFoundError } from '../../lib/index.js';
import { findSpecFile, SPEC_FILE } from '../../spec/index.js';
import {
  type AttestationRecord,
  type InstanceRecord,
  openStateStore,
  type ReleaseRecord,
  type SqliteStateStore,
  type Workspace,
  workspaceFor,
} from '../../state/index.js';
import { type ImageEvidence, imageEvidence } from '../../trust/index.js';
import { type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';
import { EXIT_OK } from '../errors.js';

const USAGE = 'cairn trace ID [--output json]   (ID: ins-…, a pod, rel-… or sha256:…)';
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
  /** What the image's own artifacts say (signatures, SBOM, provenance); absent when the image is not in the store. */
  artifacts?: ImageEvidence;
  /** An instance's current SVID: the last one its audit entries record (docs/identity.md). */
  svid?: { serial: string; spiffeId: string; notAfter: string };
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
  // An instance of a Kubernetes environment is named by its pod.
  const pod = store.getInstance(id);
  if (pod?.driver === 'kubernetes') {
    const release = store.getRelease(pod.releaseId);
    return { instance: pod, releases: release ? [release] : [], imageDigest: release?.imageDigest };
  }
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
  const entries = [...byIndex.values()].sort((a, b) => a.index - b.index);
  const svid = start.instance ? lastSvid(entries) : undefined;
  return {
    ...start,
    ...(svid ? { svid } : {}),
    signatures: attestations.filter((a) => is(a, 'sig')),
    provenance: attestations.filter((a) => is(a, 'provenance') || is(a, 'slsa')),
    otherAttestations: attestations.filter((a) => !is(a, 'sig') && !is(a, 'provenance') && !is(a, 'slsa')),
    sourceCommits: [
      ...new Set(start.releases.map((r) => r.specCommit).filter((c): c is string => Boolean(c))),
    ],
    entries,
  };
}

/** The SVID of the last `identity.svid.issue` entry (an instance's entries hold only its own). */
function lastSvid(entries: AuditEntry[]): Trace['svid'] {
  const issued = entries.filter((e) => e.action === 'identity.svid.issue').at(-1);
  const d = issued?.detail as Record<string, unknown> | undefined;
  if (typeof d?.serial !== 'string' || typeof d.spiffeId !== 'string' || typeof d.notAfter !== 'string')
    return undefined;
  return { serial: d.serial, spiffeId: d.spiffeId, notAfter: d.notAfter };
}

const list = (items: string[]): string => (items.length ? items.join(', ') : NONE);
const attest = (a: AttestationRecord): string => `${a.kind} ${a.digest} (${a.createdAt})`;
const by = (keyId?: string): string => (keyId ? `, signed by key ${keyId}` : '');

/** The chain's trust links: from the image's artifacts first, then what the state store recorded. */
function trustLines(t: Trace): string[] {
  const a = t.artifacts;
  const sbom = a?.sbom ? [`${a.sbom.format}, ${a.sbom.components} components${by(a.sbom.keyId)}`] : [];
  const p = a?.provenance;
  const provenance = p
    ? [`builder ${p.builder}, commit ${p.commit ?? NONE}${p.dirty ? ' (dirty tree)' : ''}${by(p.keyId)}`]
    : [];
  const builtFrom = p?.commit ? `${p.commit}${p.dirty ? '-dirty' : ''} (provenance)` : NONE;
  const sources = t.releases.map((r) => r.sourceDigest).filter((s): s is string => Boolean(s));
  const spec = t.sourceCommits.length ? `; spec commit at release ${t.sourceCommits.join(', ')}` : '';
  return [
    `signature   ${list([...(a?.signedBy ?? []).map((k) => `key ${k}`), ...t.signatures.map(attest)])}`,
    `sbom        ${list(sbom)}`,
    `provenance  ${list([...provenance, ...t.provenance.map(attest)])}`,
    `attestation ${list(t.otherAttestations.map(attest))}`,
    `source      commit ${builtFrom}${spec}; inputs ${list(sources)}`,
  ];
}

function render(t: Trace): string {
  const lines: string[] = [];
  if (t.instance) {
    const i = t.instance;
    lines.push(
      `instance    ${i.id}  ${i.service}@${i.env}  ${i.state}  driver ${i.driver}${i.endpoint ? `  ${i.endpoint}` : ''}`,
    );
    if (t.svid)
      lines.push(`svid        ${t.svid.spiffeId}  serial ${t.svid.serial}  not after ${t.svid.notAfter}`);
  }
  for (const r of t.releases)
    lines.push(`release     ${r.id}  ${r.service}  created ${r.createdAt}  config ${r.configDigest}`);
  if (t.releases.length === 0) lines.push(`release     ${NONE}`);
  const missing = t.imageDigest && !t.artifacts ? '  (not in the local image store: `cairn pull` it)' : '';
  lines.push(`image       ${t.imageDigest ?? NONE}${missing}`);
  lines.push(...trustLines(t));
  lines.push('', `audit entries (${t.entries.length}):`, ...t.entries.map((e) => `  ${formatEntryLine(e)}`));
  return `${lines.join('\n')}\n`;
}

/** The image's artifacts in the workspace store; undefined when the store does not hold the image. */
async function artifactsOf(ws: Workspace, digest: string | undefined): Promise<ImageEvidence | undefined> {
  if (!digest) return undefined;
  const images = openImageStore(ws.store);
  if (!(await images.hasBlob(digest).catch(() => false))) return undefined;
  return imageEvidence(images, digest);
}

function openStore(ctx: CommandContext): { store: SqliteStateStore; ws: Workspace } {
  let file: string;
  try {
    file = findSpecFile(ctx.options.file as string | undefined, ctx.cwd);
  } catch (error) {
    if (!ctx.env.CAIRN_HOME) throw error;
    file = resolve(ctx.cwd, SPEC_FILE);
  }
  const ws = workspaceFor(file, ctx.env);
  return { store: openStateStore(ws), ws };
}

export const command: Command = {
  name: 'trace',
  summary:
    'Trace an instance, release or image back to its signature, provenance and source, with its audit entries.',
  usage: USAGE,
  description: `Follows the chain instance → release → image digest → signature (key ids) → SBOM (format, component
count) → provenance (builder, source commit), and lists every audit entry whose subject is one of them.
Instances and releases come from the state store; signatures, SBOM and provenance from the image's own
artifacts in the image store (as stored: \`cairn verify\` checks them against trusted keys). A link that
is missing (an unsigned image, an image not in the local store) reads "none recorded".`,
  options: { file: FILE_OPTION, output: OUTPUT_OPTION },
  readsState: true,
  async run(ctx) {
    const id = ctx.args[0];
    if (!id || ctx.args.length > 1)
      throw new UsageError('reading ID: give exactly one instance, release or image id', USAGE);
    const { store, ws } = openStore(ctx);
    try {
      const found = trace(store, ws.keys, id);
      const artifacts = await artifactsOf(ws, found.imageDigest);
      const t: Trace = { ...found, ...(artifacts ? { artifacts } : {}) };
      ctx.stdout(ctx.output === 'json' ? `${JSON.stringify(t, null, 2)}\n` : render(t));
    } finally {
      store.close();
    }
    return EXIT_OK;
  },
};
