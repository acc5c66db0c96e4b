/**
 * SLSA v1 build provenance (`https://slsa.dev/provenance/v1`) for an image: who built it, from
 * what (spec, service, git commit), with which resolved inputs (base, lockfile) and when. Pure.
 */
import { digestHex, isDigest } from '../lib/index.js';

export const CAIRN_BUILD_TYPE = 'https://cairn.dev/build/image/v1';
export const CAIRN_BUILDER_ID = 'https://cairn.dev/builder/local';

export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface SlsaProvenance {
  buildDefinition: {
    buildType: string;
    externalParameters: Record<string, unknown>;
    internalParameters?: Record<string, unknown>;
    resolvedDependencies: ResourceDescriptor[];
  };
  runDetails: {
    builder: { id: string; version?: Record<string, string> };
    metadata: { invocationId: string; startedOn: string; finishedOn: string };
  };
}

export interface ProvenanceInput {
  service: string;
  /** The spec file as the repository names it (relative, e.g. `examples/hello/cairn.yaml`). */
  specPath: string;
  specDigest: string;
  /** The source commit, and whether the work tree had uncommitted changes. */
  git?: { commit: string; dirty: boolean; origin?: string };
  base?: { name: string; digest?: string };
  lockfile?: { path: string; digest: string };
  invocationId: string;
  startedOn: Date;
  finishedOn: Date;
  cairnVersion: string;
}

function sha256(digest: string): Record<string, string> {
  return { sha256: digestHex(digest) };
}

function dependencies(input: ProvenanceInput): ResourceDescriptor[] {
  const deps: ResourceDescriptor[] = [];
  if (input.git) {
    const uri = input.git.origin ? `git+${input.git.origin}` : 'git+file:.';
    deps.push({ name: 'source', uri, digest: { gitCommit: input.git.commit } });
  }
  deps.push({ name: 'spec', uri: `file:${input.specPath}`, digest: sha256(input.specDigest) });
  if (input.base?.digest && isDigest(input.base.digest)) {
    deps.push({ name: 'base', uri: input.base.name, digest: sha256(input.base.digest) });
  }
  if (input.lockfile)
    deps.push({
      name: 'lockfile',
      uri: `file:${input.lockfile.path}`,
      digest: sha256(input.lockfile.digest),
    });
  return deps;
}

export function slsaProvenance(input: ProvenanceInput): SlsaProvenance {
  return {
    buildDefinition: {
      buildType: CAIRN_BUILD_TYPE,
      externalParameters: {
        spec: input.specPath,
        service: input.service,
        ...(input.git ? { gitCommit: input.git.commit, gitDirty: input.git.dirty } : {}),
      },
      internalParameters: { ...(input.base ? { base: input.base.name } : {}) },
      resolvedDependencies: dependencies(input),
    },
    runDetails: {
      builder: { id: CAIRN_BUILDER_ID, version: { cairn: input.cairnVersion } },
      metadata: {
        invocationId: input.invocationId,
        startedOn: input.startedOn.toISOString(),
        finishedOn: input.finishedOn.toISOString(),
      },
    },
  };
}

/** Problems with a provenance predicate's shape, as sentences; empty when it is well-formed. */
export function provenanceProblems(value: unknown): string[] {
  const p = value as Partial<SlsaProvenance> | null;
  const problems: string[] = [];
  if (typeof p?.buildDefinition?.buildType !== 'string') problems.push('no buildDefinition.buildType');
  if (!Array.isArray(p?.buildDefinition?.resolvedDependencies)) problems.push('no resolvedDependencies');
  if (typeof p?.runDetails?.builder?.id !== 'string') problems.push('no runDetails.builder.id');
  return problems;
}
