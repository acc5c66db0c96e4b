/**
 * What an image's own artifacts say about it, summarised for people (`cairn inspect`, `cairn
 * trace`): who signed it, its SBOM and its provenance (builder, source commit). Read as stored,
 * not verified — `cairn verify` checks the signatures against trusted keys.
 */
import type { ImageStore } from '../artifact/index.js';
import { attachedStatements } from './attestations.js';
import { listAttached } from './image-attach.js';
import { CYCLONEDX_PREDICATE_TYPE, SLSA_PROVENANCE_V1 } from './statement.js';

export interface SbomSummary {
  /** e.g. `CycloneDX 1.5`. */
  format: string;
  components: number;
  keyId?: string;
}

export interface ProvenanceSummary {
  builder: string;
  buildType: string;
  /** The git commit the build came from, when it was built in a repository. */
  commit?: string;
  /** The work tree had uncommitted changes. */
  dirty?: boolean;
  /** The repository, e.g. `git+https://…` or `git+file:.`. */
  source?: string;
  keyId?: string;
}

export interface ImageEvidence {
  /** Key ids of the cosign signatures (and of the signature bundles), without duplicates. */
  signedBy: string[];
  sbom?: SbomSummary;
  provenance?: ProvenanceSummary;
}

type Predicate = Record<string, unknown> | undefined;

function sbomSummary(bom: Predicate, keyId?: string): SbomSummary {
  const format = typeof bom?.bomFormat === 'string' ? bom.bomFormat : 'unknown format';
  const version = typeof bom?.specVersion === 'string' ? ` ${bom.specVersion}` : '';
  const components = Array.isArray(bom?.components) ? bom.components.length : 0;
  return { format: `${format}${version}`, components, ...(keyId ? { keyId } : {}) };
}

function provenanceSummary(p: Predicate, keyId?: string): ProvenanceSummary {
  const def = (p?.buildDefinition ?? {}) as {
    buildType?: string;
    externalParameters?: { gitCommit?: string; gitDirty?: boolean };
    resolvedDependencies?: Array<{ name?: string; uri?: string }>;
  };
  const run = (p?.runDetails ?? {}) as { builder?: { id?: string } };
  const ext = def.externalParameters ?? {};
  const source = def.resolvedDependencies?.find((d) => d.name === 'source')?.uri;
  return {
    builder: run.builder?.id ?? 'unknown builder',
    buildType: def.buildType ?? '',
    ...(ext.gitCommit ? { commit: ext.gitCommit } : {}),
    ...(typeof ext.gitDirty === 'boolean' ? { dirty: ext.gitDirty } : {}),
    ...(source ? { source } : {}),
    ...(keyId ? { keyId } : {}),
  };
}

/**
 * Summarises the signatures, SBOM and provenance attached to `digest` in the store; the newest
 * statement of each kind wins (a rebuild of the same bytes replaces them).
 * @example
 * const e = await imageEvidence(store, 'sha256:…');
 * e.provenance?.commit; // the commit of the latest build of these bytes
 */
export async function imageEvidence(store: ImageStore, digest: string): Promise<ImageEvidence> {
  const attached = await listAttached(store, digest);
  const statements = await attachedStatements(store, digest, []);
  const last = (type: string) => statements.filter((s) => s.predicateType === type).at(-1);
  const sbom = last(CYCLONEDX_PREDICATE_TYPE);
  const provenance = last(SLSA_PROVENANCE_V1);
  const keys = attached.signatures.map((s) => s.keyId).filter((k): k is string => Boolean(k));
  return {
    signedBy: [...new Set(keys)],
    ...(sbom ? { sbom: sbomSummary(sbom.statement.predicate as Predicate, sbom.keyId) } : {}),
    ...(provenance
      ? { provenance: provenanceSummary(provenance.statement.predicate as Predicate, provenance.keyId) }
      : {}),
  };
}
