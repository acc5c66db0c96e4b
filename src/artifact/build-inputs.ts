/**
 * The inputs of one service's image, read from disk and checked: the application files, the baked
 * configuration files and the lockfile. `sourceDigest` summarises them without building anything.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { closest, jsonDigest, NotFoundError, sha256Digest, ValidationError } from '../lib/index.js';
import {
  configFileTargets,
  isInside,
  type LoadedSpec,
  mountPaths,
  readContainedFile,
  type ServiceSpec,
} from '../spec/index.js';
import { contextEntries, readSource, realContext, selectContextFiles } from './context-files.js';
import { type LayerEntry, normaliseMode } from './tar-layer.js';

export const DEFAULT_SOURCE_DATE_EPOCH = 0;

export interface BuildInputs {
  service: string;
  spec: ServiceSpec;
  context: string;
  app: LayerEntry[];
  files: LayerEntry[];
  /** The `version` of the context's package.json, when it has one. */
  version?: string;
}

export function serviceSpec(loaded: LoadedSpec, service: string): ServiceSpec {
  const spec = loaded.spec.services[service];
  if (!spec) {
    const guess = closest(service, Object.keys(loaded.spec.services));
    throw new NotFoundError(`building ${service}: no such service in ${loaded.file}`, {
      hint: guess
        ? `did you mean ${guess}?`
        : `services are: ${Object.keys(loaded.spec.services).join(', ')}`,
    });
  }
  return spec;
}

/** Reads every input of a service's image; throws the user-fixable errors before anything is written. */
export function readBuildInputs(loaded: LoadedSpec, service: string): BuildInputs {
  const spec = serviceSpec(loaded, service);
  const context = containedContext(loaded, spec.build.context);
  const selected = selectContextFiles({ context, include: spec.build.include, exclude: spec.build.exclude });
  const app = contextEntries(context, selected, spec.build.workdir);
  const files: LayerEntry[] = Object.entries(spec.build.files)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([target, source]) => ({
      path: target.replace(/^\/+/, ''),
      type: 'file' as const,
      mode: 0o644,
      // Checked again at the moment of reading: inside the project folder, never through a symlink out.
      data: readContainedFile(loaded.root, resolve(loaded.dir, source), { shownAs: source }),
    }));
  const version = packageVersion(context);
  return { service, spec, context, app, files, ...(version ? { version } : {}) };
}

/** The real folder of a build context, refused when it lies outside the project folder. */
function containedContext(loaded: LoadedSpec, rel: string): string {
  const context = realContext(resolve(loaded.dir, rel));
  if (!isInside(loaded.root, context))
    throw new ValidationError(
      `reading the build context ${rel}: it leads to ${context}, outside the project folder ${loaded.root}`,
      [],
      {
        hint: 'set build.context to a folder inside the project; a spec may name only files inside it (see docs/security.md)',
      },
    );
  return context;
}

/** A plain-data summary of entries (path, type, mode, link, content digest) to key a layer cache. */
export function entriesKey(entries: LayerEntry[]): unknown {
  return entries.map((e) => [
    e.path,
    e.type,
    normaliseMode(e.type, e.mode),
    e.linkname ?? '',
    e.data ? sha256Digest(e.data) : '',
  ]);
}

/**
 * The digest of everything a service's image is built from — base name, build and port settings,
 * application files, baked files, lockfile, SOURCE_DATE_EPOCH, the mount points it records
 * (`run.tmpfs`, volume paths, configuration file paths) — computed without building.
 * Equal digests mean a build would produce the same application; a changed digest means code or
 * configuration changed. (A `host:node` base is named, not hashed: host upgrades do not show here.)
 */
export async function sourceDigest(
  loaded: LoadedSpec,
  service: string,
  sourceDateEpoch: number = DEFAULT_SOURCE_DATE_EPOCH,
): Promise<string> {
  const inputs = readBuildInputs(loaded, service);
  const lock = join(inputs.context, 'package-lock.json');
  const targets = configFileTargets(inputs.spec);
  const mountPoints = mountPaths(inputs.spec.run);
  return jsonDigest({
    base: inputs.spec.build.base,
    build: { ...inputs.spec.build, include: undefined, exclude: undefined, files: undefined },
    port: inputs.spec.run.port,
    app: entriesKey(inputs.app),
    files: entriesKey(inputs.files),
    lock: existsSync(lock) ? sha256Digest(readSource(inputs.context, lock, 'package-lock.json')) : null,
    sourceDateEpoch,
    // Only when there are any: the digest of a service without configuration files stays as it was.
    ...(targets.length > 0 ? { configFiles: targets } : {}),
    // The image records them (OCI `Volumes`): a new tmpfs needs a new image, so plan must say so.
    ...(mountPoints.length > 0 ? { mountPoints } : {}),
  });
}

function packageVersion(context: string): string | undefined {
  try {
    const bytes = readSource(context, join(context, 'package.json'), 'package.json');
    const pkg = JSON.parse(bytes.toString('utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}
