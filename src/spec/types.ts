/** The typed, defaulted form of cairn.yaml that every other capability reads. Mirrors `schema.ts`. */

export type Strategy = 'bluegreen' | 'canary' | 'rolling';
export type DriverKind = 'auto' | 'runc' | 'bwrap' | 'process' | 'kubernetes';

export interface BuildSpec {
  context: string;
  base: string;
  include: string[];
  exclude: string[];
  entrypoint: string[];
  workdir: string;
  user: number;
  env: Record<string, string>;
  files: Record<string, string>;
}

export interface HealthSpec {
  path: string;
  /** Highest status that counts as healthy (default 399; absent in releases made before it existed). */
  maxStatus?: number;
  /** A TCP connect check instead of HTTP. */
  tcp?: boolean;
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  startPeriodMs: number;
}

/** One entry of `run.secrets`: the secret's name and where the instance gets it. */
export interface SecretRef {
  name: string;
  env?: string;
  file?: string;
}

/** One entry of `run.volumes`. */
export interface VolumeSpec {
  name: string;
  path: string;
}

export interface RunSpec {
  port: number;
  replicas: number;
  health: HealthSpec;
  tmpfs: string[];
  /** Named per-environment volumes: `.cairn/volumes/<env>/<name>` mounted read-write at `path`. */
  volumes?: VolumeSpec[];
  /** Isolated instances (runc): host services they may reach (`127.0.0.1:PORT`), services they may call. */
  network?: { egress: string[]; allow: string[] };
  /** The instance serves TLS with its SVID; the gateway connects with mutual TLS (docs/identity.md). */
  tls?: boolean;
  /** As written; a release holds them pinned (`SecretPin`: version and keyed hash added). */
  secrets: SecretRef[];
  stopGraceMs: number;
  /** Only in a release: its environment's variables (`services.X.environments.ENV.env`). */
  env?: Record<string, string>;
  /**
   * Only in a release: its environment's configuration files (`services.X.environments.ENV.files`),
   * path in the instance → `sha256:` digest of the content pinned in the workspace at deploy.
   */
  files?: Record<string, string>;
  memoryMb?: number;
  cpus?: number;
}

export interface AnalysisSpec {
  maxErrorRate: number;
  maxP99Ms: number;
  maxP95Ms?: number;
  minRequests: number;
  windowMs: number;
  inconclusive: 'hold' | 'fail';
}

export interface CanaryStep {
  weight?: number;
  pauseMs?: number;
  pause?: { durationMs?: number };
  analysis?: Partial<AnalysisSpec>;
}

/** Blue/green's pre-promotion analysis: a window in which only pinned requests reach the new release. */
export interface PreviewSpec {
  /** How long the new release is previewed (at least) before the analysis decides. */
  durationMs: number;
  /** Paths cairn requests through the gateway, pinned to the new release, during the window. */
  paths: string[];
  /** Requests per second cairn sends across `paths` (0: only what testers send). */
  rps: number;
  /** Overrides of deploy.analysis for the preview. */
  analysis?: Partial<AnalysisSpec>;
}

export interface DeploySpec {
  strategy: Strategy;
  steps: CanaryStep[];
  analysis: AnalysisSpec;
  maxSurge: number;
  maxUnavailable: number;
  scaleDownDelayMs: number;
  drainTimeoutMs: number;
  progressDeadlineMs: number;
  /** Blue/green only; absent means switch as soon as every new instance is healthy. */
  preview?: PreviewSpec;
}

/** What a service sets differently in one environment; the image stays the same. */
export interface ServiceEnvironmentSpec {
  env: Record<string, string>;
  /** Path in the instance → project file, mounted read-only (absent or empty: none). */
  files?: Record<string, string>;
}

export interface ServiceSpec {
  build: BuildSpec;
  run: RunSpec;
  deploy: DeploySpec;
  /** By environment name; absent or empty when every environment runs the same settings. */
  environments?: Record<string, ServiceEnvironmentSpec>;
}

export interface EnvironmentSpec {
  after?: string;
  approval: boolean;
  driver: DriverKind;
  /** Present: the environment lives in this Kubernetes cluster (its driver is `kubernetes`). */
  kubernetes?: KubernetesTarget;
  gateway: {
    listen: string;
    pinHeader: boolean;
    engine: 'builtin' | 'haproxy';
    /** Per-client connection cap of the gateway; its default when absent. */
    maxConnectionsPerClient?: number;
  };
  trust: { keys: string[] };
  policies: string[];
  /** Absent: required exactly when `trust.keys` names keys. */
  requireSignature?: boolean;
  /** Highest vulnerability severity allowed; absent means no scan gate. */
  maxSeverity?: VulnSeverity;
  /** Filled with defaults by the parser; absent only in specs built by hand (tests). */
  drift?: DriftSettings;
}

/** Where a Kubernetes environment lives (`environments.<name>.kubernetes`). */
export interface KubernetesTarget {
  /** Relative to cairn.yaml, or absolute. */
  kubeconfig: string;
  /** Absent: the kubeconfig's current-context. */
  context?: string;
  namespace: string;
  /**
   * Where cairn's gateway runs in the cluster (a host-network DaemonSet at `gateway.listen`);
   * absent: the gateway of `cairn up` on this machine serves the environment (no canary).
   */
  gatewayNamespace?: string;
  /** `host[:port][/path]`: plain HTTP only for a loopback host. */
  registry: string;
}

/** How `cairn up` checks an environment's instances for drift. */
export interface DriftSettings {
  /** `enforce` replaces drifted instances and stops unknown containers; `warn` only reports. */
  mode: 'enforce' | 'warn';
  /** Time between full verifications. */
  intervalMs: number;
  /** Check at once when a bundle's files change. */
  fastPath: boolean;
}

export interface RouteSpec {
  host: string;
  path: string;
  service: string;
  rateLimit?: { rps: number; burst?: number };
  maxBodyBytes?: number;
  timeoutMs?: number;
  /** JWT authentication; `jwks` is a path relative to cairn.yaml, `secret` a secret name. */
  auth?: { jwks?: string; secret?: string; issuer?: string; audience?: string };
}

/** Vulnerability severities from least to most severe (CVSS v3 ratings). */
export type VulnSeverity = 'none' | 'low' | 'medium' | 'high' | 'critical';

/** A finding accepted until `expires`, with the reason an auditor reads. */
export interface VulnAcceptance {
  id: string;
  reason: string;
  expires: string;
  services?: string[];
}

/** `identity:` of cairn.yaml, as written (defaults are applied by the identity capability). */
export interface IdentitySettings {
  trustDomain?: string;
  svidTtlMs?: number;
  hopPort?: number;
}

export interface Spec {
  project: string;
  services: Record<string, ServiceSpec>;
  environments: Record<string, EnvironmentSpec>;
  routes: RouteSpec[];
  /** Present: every instance gets an X.509 SVID (docs/identity.md); absent: identity is off. */
  identity?: IdentitySettings;
  /** Filled with defaults by the parser; absent only in specs built by hand (tests). */
  vuln?: { ignore: VulnAcceptance[] };
}

/** A spec together with where it came from; relative paths in it resolve against `dir`. */
export interface LoadedSpec {
  spec: Spec;
  /** Path of cairn.yaml as the user named it (used in diagnostics). */
  file: string;
  /** Absolute folder of cairn.yaml. */
  dir: string;
  /** Real folder every path the spec names must stay in: $CAIRN_PROJECT_ROOT or `dir`. */
  root: string;
  /** sha256 of the file's bytes. */
  digest: string;
}
