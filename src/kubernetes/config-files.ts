/**
 * A release's configuration files (`services.X.environments.ENV.files`, pinned by digest in
 * `run.files`) in a cluster: one immutable ConfigMap per content, named by its digest, mounted
 * read-only at each path with `subPath`. Pure: no client, no I/O.
 */
import { digestHex, IntegrityError, sha256Digest } from '../lib/index.js';

/** Marks cairn's configuration-file ConfigMaps (value: the first hex digits of the digest). */
export const CONFIG_FILE_LABEL = 'cairn.dev/config-file';
/** The one key of a file's ConfigMap. */
const CONTENT_KEY = 'content';
/** Readable by the pod's user, written by nobody: as on one machine (0444). */
const FILE_MODE = 0o444;

/** One pinned configuration file with its content (checked against its digest before it is written). */
export interface PinnedConfigFile {
  /** The absolute path in the container. */
  path: string;
  /** `sha256:<hex>` of the content, as the release pins it. */
  digest: string;
  content: Buffer;
}

/** The ConfigMap of one content: `cairn-file-<sha256 hex>` (the same content is one object). */
export const configFileName = (digest: string): string => `cairn-file-${digestHex(digest)}`;

/**
 * The immutable ConfigMap of a pinned file. Throws an IntegrityError when the content does not
 * hash to the digest the release pins: a pod must never get another configuration than its release's.
 */
export function configFileManifest(namespace: string, file: PinnedConfigFile) {
  const actual = sha256Digest(file.content);
  if (actual !== file.digest) {
    throw new IntegrityError(
      `writing configuration file ${file.path} to the cluster: its content hashes to ${actual}, the release pins ${file.digest}`,
      { hint: 'the workspace copy was modified; deploy the service again to pin the file anew' },
    );
  }
  // Text stays readable in `kubectl get configmap -o yaml`; other bytes go as binaryData.
  const text = file.content.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(file.content);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: configFileName(file.digest),
      namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'cairn',
        [CONFIG_FILE_LABEL]: digestHex(file.digest).slice(0, 63),
      },
    },
    immutable: true,
    ...(isText
      ? { data: { [CONTENT_KEY]: text } }
      : { binaryData: { [CONTENT_KEY]: file.content.toString('base64') } }),
  };
}

/** The pod's volumes (one per content) and the container's mounts (one per path, read-only). */
export function configFileMounts(files: ReadonlyArray<Pick<PinnedConfigFile, 'path' | 'digest'>>): {
  volumes: Record<string, unknown>[];
  mounts: Record<string, unknown>[];
} {
  const digests = [...new Set(files.map((f) => f.digest))].sort();
  const volume = (digest: string) => `config-file-${digests.indexOf(digest)}`;
  return {
    volumes: digests.map((d) => ({
      name: volume(d),
      configMap: { name: configFileName(d), defaultMode: FILE_MODE },
    })),
    mounts: [...files]
      .sort((a, b) => (a.path < b.path ? -1 : 1))
      .map((f) => ({ name: volume(f.digest), mountPath: f.path, subPath: CONTENT_KEY, readOnly: true })),
  };
}

/** The configuration-file ConfigMaps a Deployment's pods mount. */
export function configMapsOf(deployment: object): string[] {
  const pod = (deployment as { spec?: { template?: { spec?: { volumes?: unknown[] } } } }).spec?.template
    ?.spec;
  return (pod?.volumes ?? []).flatMap((v) => {
    const name = (v as { configMap?: { name?: string } }).configMap?.name;
    return name ? [name] : [];
  });
}
