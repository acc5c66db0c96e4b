/**
 * The objects a release becomes in a cluster, as plain data: the namespace (Pod Security
 * `restricted`, enforced), one immutable Secret per pinned secret version, and one Deployment per
 * release whose pod is hardened as a local instance is (its configuration files' ConfigMaps are in
 * config-files.ts). Pure: no client, no I/O.
 */
import type { HealthSpec, RunSpec } from '../spec/index.js';
import { configFileMounts, type PinnedConfigFile } from './config-files.js';

export const FIELD_MANAGER = 'cairn';
export const LABEL = {
  service: 'cairn.dev/service',
  env: 'cairn.dev/env',
  release: 'cairn.dev/release',
  secret: 'cairn.dev/secret',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;
/** Where secret files are, as on one machine (`CAIRN_SECRETS_DIR`). */
export const SECRETS_DIR = '/run/secrets';
const SECRET_KEY = 'value';
/** Read by the owner and the pod's group only. */
const SECRET_FILE_MODE = 0o440;

export type Manifest = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<
  string,
  unknown
>;

/** One pinned secret version with the value the pod gets (never in a label, annotation or log). */
export interface PinnedSecret {
  name: string;
  version: string;
  /** Keyed hash of the value (`hmac-sha256:…`): names the Secret when the version is not one. */
  digest: string;
  file?: string;
  env?: string;
  value: Buffer;
}

/** What one release needs to become a workload. */
export interface ReleaseWorkload {
  service: string;
  env: string;
  releaseId: string;
  namespace: string;
  /** `REGISTRY/REPO@sha256:…` */
  image: string;
  /** The image's user (numeric), so `runAsNonRoot` can be checked by the kubelet. */
  uid: number;
  run: RunSpec;
  secrets: PinnedSecret[];
  /** The release's configuration files (`run.files`), each an immutable ConfigMap mounted read-only. */
  files?: PinnedConfigFile[];
}

const lower = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]+/g, '-');

/** The Deployment of a release: `<service>-<release>` (a DNS label, ≤ 63). */
export const deploymentName = (service: string, releaseId: string): string =>
  lower(`${service}-${releaseId}`).slice(0, 63).replace(/-+$/, '');

/** The Secret of one pinned version: `cairn-<name>-<version>`, or the value's keyed hash when unversioned. */
export function secretName(secret: Pick<PinnedSecret, 'name' | 'version' | 'digest'>): string {
  const version = /^v\d+$/.test(secret.version)
    ? secret.version
    : secret.digest.replace(/^.*:/, '').slice(0, 16);
  return lower(`cairn-${secret.name}-${version}`).slice(0, 253);
}

export function namespaceManifest(namespace: string): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespace,
      labels: {
        [LABEL.managedBy]: 'cairn',
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
      },
    },
  };
}

export function secretManifest(namespace: string, secret: PinnedSecret): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretName(secret),
      namespace,
      labels: { [LABEL.managedBy]: 'cairn', [LABEL.secret]: lower(secret.name).slice(0, 63) },
    },
    type: 'Opaque',
    immutable: true,
    data: { [SECRET_KEY]: secret.value.toString('base64') },
  };
}

export function deploymentManifest(w: ReleaseWorkload, replicas: number): Manifest {
  const labels = {
    [LABEL.service]: w.service,
    [LABEL.env]: w.env,
    [LABEL.release]: w.releaseId,
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: deploymentName(w.service, w.releaseId),
      namespace: w.namespace,
      labels: { ...labels, [LABEL.managedBy]: 'cairn' },
    },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: podSpec(w) },
    },
  };
}

function podSpec(w: ReleaseWorkload): Record<string, unknown> {
  const files = w.secrets.filter((s) => s.file);
  const tmpfs = w.run.tmpfs.map((path, i) => ({ name: `tmpfs-${i}`, path }));
  const configFiles = configFileMounts(w.files ?? []);
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // The cluster may have no DNS of its own (the testbed has none): resolve as the node does.
    dnsPolicy: 'Default',
    terminationGracePeriodSeconds: Math.ceil(w.run.stopGraceMs / 1000),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: w.uid,
      runAsGroup: w.uid,
      fsGroup: w.uid,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [
      {
        name: lower(w.service).slice(0, 63),
        image: w.image,
        imagePullPolicy: 'IfNotPresent',
        ports: [{ name: 'http', containerPort: w.run.port }],
        env: containerEnv(w, files.length > 0),
        ...probes(w.run.health, w.run.port),
        ...resources(w.run),
        securityContext: {
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          runAsUser: w.uid,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
        volumeMounts: [
          ...tmpfs.map((t) => ({ name: t.name, mountPath: t.path })),
          ...(files.length > 0 ? [{ name: 'secrets', mountPath: SECRETS_DIR, readOnly: true }] : []),
          ...configFiles.mounts,
        ],
      },
    ],
    volumes: [
      ...tmpfs.map((t) => ({ name: t.name, emptyDir: { medium: 'Memory' } })),
      ...(files.length > 0
        ? [
            {
              name: 'secrets',
              projected: {
                defaultMode: SECRET_FILE_MODE,
                sources: files.map((s) => ({
                  secret: { name: secretName(s), items: [{ key: SECRET_KEY, path: s.file }] },
                })),
              },
            },
          ]
        : []),
      ...configFiles.volumes,
    ],
  };
}

/** As on one machine (instanceVars): the spec's variables, secrets as env, HOST and PORT. */
function containerEnv(w: ReleaseWorkload, hasFiles: boolean): Record<string, unknown>[] {
  const plain = { ...(w.run.env ?? {}), HOST: '0.0.0.0', PORT: String(w.run.port) };
  return [
    ...Object.entries(plain).map(([name, value]) => ({ name, value })),
    ...(hasFiles ? [{ name: 'CAIRN_SECRETS_DIR', value: SECRETS_DIR }] : []),
    ...w.secrets
      .filter((s) => s.env)
      .map((s) => ({ name: s.env, valueFrom: { secretKeyRef: { name: secretName(s), key: SECRET_KEY } } })),
  ];
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** run.health as a readiness probe (takes traffic) and a liveness probe (replaced when it fails). */
function probes(health: HealthSpec, port: number): Record<string, unknown> {
  const check = health.tcp ? { tcpSocket: { port } } : { httpGet: { path: health.path, port } };
  const common = {
    ...check,
    periodSeconds: seconds(health.intervalMs),
    timeoutSeconds: seconds(health.timeoutMs),
    failureThreshold: health.unhealthyThreshold,
  };
  return {
    readinessProbe: { ...common, successThreshold: health.healthyThreshold },
    livenessProbe: { ...common, initialDelaySeconds: Math.ceil(health.startPeriodMs / 1000) },
  };
}

function resources(run: RunSpec): Record<string, unknown> {
  const limits = {
    ...(run.memoryMb ? { memory: `${run.memoryMb}Mi` } : {}),
    ...(run.cpus ? { cpu: `${Math.round(run.cpus * 1000)}m` } : {}),
  };
  return Object.keys(limits).length > 0 ? { resources: { limits } } : {};
}
