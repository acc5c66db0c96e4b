/**
 * The file-system edge of per-environment configuration files: reads the project files one
 * environment of a service names (inside the project folder, at most MAX_CONFIG_FILE_BYTES each) and
 * gives their content digests, the part of a release's identity they are.
 */
import { resolve } from 'node:path';
import { sha256Digest } from '../lib/index.js';
import { MAX_CONFIG_FILE_BYTES } from './config-file-rules.js';
import { readContainedFile } from './project-file.js';
import type { LoadedSpec } from './types.js';

/** One configuration file as read now. */
export interface ConfigFile {
  /** Where the instance sees it (absolute). */
  target: string;
  /** The project file, as written in cairn.yaml. */
  source: string;
  /** `sha256:` of its content. */
  digest: string;
  content: Buffer;
}

/** The files `services.<service>.environments.<env>.files` names, read now, sorted by target. */
export function readConfigFiles(
  loaded: Pick<LoadedSpec, 'spec' | 'dir' | 'root'>,
  service: string,
  env: string,
): ConfigFile[] {
  const files = loaded.spec.services[service]?.environments?.[env]?.files ?? {};
  return Object.keys(files)
    .sort()
    .map((target) => {
      const source = files[target]!;
      const content = readContainedFile(loaded.root, resolve(loaded.dir, source), {
        shownAs: `${source} (configuration file for ${target} in ${env})`,
        maxBytes: MAX_CONFIG_FILE_BYTES,
      });
      return { target, source, digest: sha256Digest(content), content };
    });
}

/** Target → content digest: what a release records of its configuration files. */
export function configFileDigests(files: readonly ConfigFile[]): Record<string, string> {
  return Object.fromEntries(files.map((f) => [f.target, f.digest]));
}
