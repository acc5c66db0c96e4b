/**
 * The Kubernetes environments of the spec `cairn up` started with, one connection each, wired to
 * the state store (pods become instance records), the image store (images pushed to the
 * environment's registry), the secret store (pinned versions become immutable Secrets) and the
 * pinned configuration files (each content an immutable ConfigMap).
 */

import { resolve } from 'node:path';
import type { ImageStore } from '../artifact/index.js';
import type { AuditLog } from '../audit/index.js';
import { policiesOf } from '../gates/index.js';
import {
  type AdmissionPolicy,
  GATEWAY_SERVICE,
  KubernetesEnvironment,
  PodMirror,
  pushReleaseImage,
} from '../kubernetes/index.js';
import { ValidationError } from '../lib/index.js';
import { policyMatches } from '../policy/index.js';
import type { LoadedSpec } from '../spec/index.js';
import type { ReleaseRecord, SqliteStateStore } from '../state/index.js';
import type { ConfigFilePins } from './config-file-pins.js';
import type { SecretAccess } from './secret-access.js';

export interface ClustersDeps {
  store: SqliteStateStore;
  audit: AuditLog;
  images: ImageStore;
  secrets: SecretAccess;
  /** The workspace's pinned configuration files (each release's `run.files`). */
  configFiles: ConfigFilePins;
  /** A pod of `service` in `env` changed: re-point the gateway. */
  changed: (env: string, service: string) => void;
  /** The environment's gates at the `admission` door: the policies that held, or a throw. */
  admit: (release: ReleaseRecord, env: string) => Promise<string[]>;
  /** Builds (or finds) cairn's gateway image, asks `env`'s gates about it, and returns its digest. */
  gatewayImage?: (env: string) => Promise<string>;
  log?: (line: Record<string, unknown>) => void;
}

export class Clusters {
  private readonly envs = new Map<string, KubernetesEnvironment>();

  /** Connects (lazily) to the cluster of every environment that names one. */
  open(loaded: LoadedSpec, deps: ClustersDeps): void {
    for (const [env, spec] of Object.entries(loaded.spec.environments)) {
      const target = spec.kubernetes;
      if (!target) continue;
      const mirror = new PodMirror({
        store: deps.store,
        audit: deps.audit,
        env,
        changed: (service) => deps.changed(env, service),
      });
      const pushImage = (release: ReleaseRecord) =>
        pushReleaseImage(deps.images, release.imageDigest, release.service, target.registry, env);
      const build = deps.gatewayImage;
      const gatewayImage = build
        ? async () => {
            const digest = await build(env);
            const pushed = await pushReleaseImage(deps.images, digest, GATEWAY_SERVICE, target.registry, env);
            return { ...pushed, digest };
          }
        : undefined;
      this.envs.set(
        env,
        new KubernetesEnvironment({
          env,
          target,
          specDir: loaded.dir,
          release: (id) => deps.store.getRelease(id),
          pushImage,
          secrets: (release) => deps.secrets.pinned(release),
          configFiles: (release) =>
            deps.configFiles.read(
              release.id,
              (release.config.run as { files?: Record<string, string> }).files ?? {},
            ),
          mirror,
          store: deps.store,
          audit: deps.audit,
          admit: (release) => deps.admit(release, env),
          admissionPolicies: () => admissionPolicies(loaded, env),
          neighbours: (service) => neighbours(loaded, service),
          ...(spec.drift?.mode ? { driftMode: spec.drift.mode } : {}),
          ...(gatewayImage ? { gatewayImage, gatewayListen: spec.gateway.listen } : {}),
          ...(deps.log ? { log: deps.log } : {}),
        }),
      );
    }
  }

  /** The Kubernetes environment `env`, or undefined when it runs on this machine. */
  get(env: string): KubernetesEnvironment | undefined {
    return this.envs.get(env);
  }

  /** Before a deploy to `env` changes state: the cluster answers and has the image. */
  async preflight(env: string, release: ReleaseRecord, isKubernetes: boolean): Promise<void> {
    const cluster = this.envs.get(env);
    if (cluster) return cluster.preflight(release);
    if (isKubernetes)
      throw new ValidationError(`deploying to ${env}: cairn up started before ${env} named a cluster`, [], {
        hint: 'restart `cairn up` so it connects to the cluster in environments.' + env + '.kubernetes',
      });
  }

  /** Starts the pod watches; a cluster that does not answer is retried in the background. */
  start(): Promise<void> {
    return Promise.all([...this.envs.values()].map((e) => e.start())).then(() => {});
  }

  stop(): Promise<void> {
    return Promise.all([...this.envs.values()].map((e) => e.stop())).then(() => {});
  }
}

/** The cairn policies of `env` that hold at the `admission` door (any service), as their VAPs need them. */
export function admissionPolicies(loaded: LoadedSpec, env: string): AdmissionPolicy[] {
  const out: AdmissionPolicy[] = [];
  for (const file of loaded.spec.environments[env]?.policies ?? []) {
    for (const p of policiesOf(loaded.root, resolve(loaded.dir, file), file).policies) {
      const d = p.definition;
      const services = d.match.services;
      const probe = services[0] ?? '';
      if (!policyMatches(p, { service: probe, env, stage: 'admission' })) continue;
      out.push({
        name: d.name,
        message: d.validations[0]?.message ?? `the release did not pass policy ${d.name}`,
        services,
      });
    }
  }
  return out;
}

/** Who `service` may call (and on which port), and who may call it: `run.network.allow`. */
export function neighbours(loaded: LoadedSpec, service: string) {
  const services = loaded.spec.services;
  const allow = (services[service]?.run.network?.allow ?? []).flatMap((s) =>
    services[s] ? [{ service: s, port: services[s].run.port }] : [],
  );
  const callers = Object.entries(services)
    .filter(([, spec]) => spec.run.network?.allow.includes(service))
    .map(([name]) => name);
  return { allow, callers };
}
