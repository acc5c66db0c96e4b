/**
 * The one object every policy sees, its CEL declaration (so expressions are type-checked at
 * `cairn validate`), and how it is built from a release's evidence. docs/policy.md documents it
 * field by field; change both together.
 */
import { Environment } from '@marcbachmann/cel-js';
import { RE2_MATCHES, re2Matches } from './regex.js';

export interface PolicyComponent {
  name: string;
  version: string;
  purl: string;
  type: string;
}

export interface PolicyFinding {
  id: string;
  aliases: string[];
  package: string;
  ecosystem: string;
  installed: string;
  fixed: string;
  severity: string;
  score: number;
  accepted: boolean;
}

export interface PolicyInput {
  service: string;
  environment: string;
  stage: string;
  actor: string;
  image: {
    digest: string;
    created: string;
    config: {
      user: string;
      entrypoint: string[];
      cmd: string[];
      env: string[];
      workingDir: string;
      labels: Record<string, string>;
      exposedPorts: string[];
    };
  };
  release: { id: string; run: Record<string, unknown> };
  sbom: { present: boolean; components: PolicyComponent[] };
  provenance: { present: boolean; builder: string; buildType: string; sourceCommit: string; dirty: boolean };
  signatures: Array<{ keyId: string; trusted: boolean }>;
  scan: { present: boolean; dbAsOf: string; maxSeverity: string; findings: PolicyFinding[] };
}

/**
 * Classes of the input's list elements: evaluation hands CEL instances of them, which it reads
 * directly (plain objects it would convert on every access — twice as slow over a large SBOM).
 */
export class CelComponent {}
export class CelSignature {}
export class CelFinding {}

/**
 * Converted component lists (and the package index) by SBOM digest: an image's SBOM is read at
 * every door, converted once.
 */
const componentCache = new Map<string, { components: CelComponent[]; packages: Map<string, string[]> }>();
const COMPONENT_CACHE_ENTRIES = 32;

/**
 * The input with its lists' elements as the classes CEL was told about. With `sbomDigest` (the
 * digest of exactly these components) the converted components are reused: CEL never changes them.
 */
export function celInput(input: PolicyInput, sbomDigest?: string): Record<string, unknown> {
  const as = <T extends object>(list: readonly object[], Ctor: new () => T) =>
    list.map((o) => Object.assign(new Ctor(), o));
  let sbom = sbomDigest ? componentCache.get(sbomDigest) : undefined;
  if (!sbom) {
    sbom = {
      components: as(input.sbom.components, CelComponent),
      packages: packageIndex(input.sbom.components),
    };
    if (sbomDigest) {
      if (componentCache.size >= COMPONENT_CACHE_ENTRIES)
        componentCache.delete(componentCache.keys().next().value!);
      componentCache.set(sbomDigest, sbom);
    }
  }
  return {
    ...input,
    release: { ...input.release, run: celValue(input.release.run) },
    sbom: { ...input.sbom, ...sbom },
    signatures: as(input.signatures, CelSignature),
    scan: { ...input.scan, findings: as(input.scan.findings, CelFinding) },
  };
}

/**
 * `sbom.packages`: each package URL without version, qualifiers and subpath
 * (`pkg:npm/event-stream`, `pkg:deb/debian/libc6`) → the versions the SBOM has. `"pkg:npm/x" in
 * sbom.packages` is one lookup, where `sbom.components.exists(…)` walks every component.
 */
export function packageIndex(components: readonly PolicyComponent[]): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const c of components) {
    if (!c.purl) continue;
    const key = c.purl.replace(/[@?#].*$/, '');
    const versions = index.get(key);
    if (versions) versions.push(c.version);
    else index.set(key, [c.version]);
  }
  return index;
}

/**
 * The CEL environment policies compile in: the input's variables with their types, and `matches`
 * with RE2 (see `useRe2Matches`).
 */
export function policyEnvironment(): Environment {
  return new Environment({ limits: { maxAstNodes: 2_000, maxDepth: 64, maxListElements: 1_000 } })
    .registerFunction({
      name: RE2_MATCHES,
      receiverType: 'string',
      returnType: 'bool',
      params: [{ name: 'pattern', type: 'string' }],
      handler: (text: string, pattern: string) => re2Matches(text, pattern),
    })
    .registerType('Component', {
      ctor: CelComponent,
      fields: { name: 'string', version: 'string', purl: 'string', type: 'string' },
    })
    .registerType('Signature', { ctor: CelSignature, fields: { keyId: 'string', trusted: 'bool' } })
    .registerType('Finding', {
      ctor: CelFinding,
      fields: {
        id: 'string',
        aliases: 'list<string>',
        package: 'string',
        ecosystem: 'string',
        installed: 'string',
        fixed: 'string',
        severity: 'string',
        score: 'double',
        accepted: 'bool',
      },
    })
    .registerVariable('service', 'string')
    .registerVariable('environment', 'string')
    .registerVariable('stage', 'string')
    .registerVariable('actor', 'string')
    .registerVariable({
      name: 'image',
      schema: {
        digest: 'string',
        created: 'string',
        config: {
          user: 'string',
          entrypoint: 'list<string>',
          cmd: 'list<string>',
          env: 'list<string>',
          workingDir: 'string',
          labels: 'map<string, string>',
          exposedPorts: 'list<string>',
        },
      },
    })
    .registerVariable({ name: 'release', schema: { id: 'string', run: 'map<string, dyn>' } })
    .registerVariable({
      name: 'sbom',
      schema: { present: 'bool', components: 'list<Component>', packages: 'map<string, list<string>>' },
    })
    .registerVariable({
      name: 'provenance',
      schema: {
        present: 'bool',
        builder: 'string',
        buildType: 'string',
        sourceCommit: 'string',
        dirty: 'bool',
      },
    })
    .registerVariable('signatures', 'list<Signature>')
    .registerVariable({
      name: 'scan',
      schema: { present: 'bool', dbAsOf: 'string', maxSeverity: 'string', findings: 'list<Finding>' },
    });
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The fields of an OCI image config policies read, with empty values where the image has none. */
export function imageFields(digest: string, config: Record<string, unknown>): PolicyInput['image'] {
  const c = (config.config ?? {}) as Record<string, unknown>;
  const labels = Object.fromEntries(
    Object.entries((c.Labels ?? {}) as Record<string, unknown>).filter(([, v]) => typeof v === 'string'),
  ) as Record<string, string>;
  return {
    digest,
    created: str(config.created),
    config: {
      user: str(c.User),
      entrypoint: strings(c.Entrypoint),
      cmd: strings(c.Cmd),
      env: strings(c.Env),
      workingDir: str(c.WorkingDir),
      labels,
      exposedPorts: Object.keys((c.ExposedPorts ?? {}) as object),
    },
  };
}

/** SBOM components from a CycloneDX document. */
export function sbomFields(sbom: unknown): PolicyInput['sbom'] {
  const list = (sbom as { components?: unknown[] } | undefined)?.components;
  if (!Array.isArray(list)) return { present: false, components: [] };
  return {
    present: true,
    components: list.map((raw) => {
      const c = raw as Record<string, unknown>;
      return { name: str(c.name), version: str(c.version), purl: str(c.purl), type: str(c.type) };
    }),
  };
}

/** Builder, source commit and tree state from a SLSA v1 provenance predicate. */
export function provenanceFields(provenance: unknown): PolicyInput['provenance'] {
  const p = provenance as
    | {
        buildDefinition?: { buildType?: unknown; externalParameters?: Record<string, unknown> };
        runDetails?: { builder?: { id?: unknown } };
      }
    | undefined;
  if (!p?.buildDefinition)
    return { present: false, builder: '', buildType: '', sourceCommit: '', dirty: false };
  const ext = p.buildDefinition.externalParameters ?? {};
  return {
    present: true,
    builder: str(p.runDetails?.builder?.id),
    buildType: str(p.buildDefinition.buildType),
    sourceCommit: str(ext.gitCommit),
    // A build without git cannot prove a clean tree: it counts as dirty.
    dirty: typeof ext.gitDirty === 'boolean' ? ext.gitDirty : true,
  };
}

/** CEL has 64-bit integers: JSON numbers that are whole become bigint, recursively. */
export function celValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(celValue);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, celValue(v)]));
  }
  return value;
}
