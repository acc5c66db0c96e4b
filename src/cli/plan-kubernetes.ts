/**
 * `cairn plan` for the environments that live in a Kubernetes cluster: the release a deploy would
 * make now (from the last image `cairn build` made and the spec's settings, as `cairn deploy
 * --image SERVICE` makes it), what serves there (the state store), and, when the cluster answers,
 * its live objects (read-only). A cluster that does not answer is said in the plan, not an error.
 */
import { existsSync } from 'node:fs';
import { openImageStore, serviceRef } from '../artifact/index.js';
import { identityKeyPath, keyedDigest, readIdentityKey } from '../drift/index.js';
import type { ClusterPlan, Manifest, SecretVersion, ServicePlanInput } from '../kubernetes/index.js';
import { CairnError, jsonDigest, releaseId } from '../lib/index.js';
import type { PlanItem } from '../rollout/index.js';
import { isPin, openSecretResolver, pinSecrets, type SecretRef } from '../secrets/index.js';
import { admissionPolicies, neighbours } from '../server/index.js';
import { configFileDigests, type LoadedSpec, readConfigFiles, releaseConfig } from '../spec/index.js';
import type { StateReader, Workspace } from '../state/index.js';

/** The cluster plan of each Kubernetes environment among `envs`. */
export async function planClusters(
  loaded: LoadedSpec,
  envs: string[],
  ws: Workspace,
  store: StateReader | undefined,
  items: PlanItem[],
): Promise<ClusterPlan[]> {
  const targets = envs.filter((e) => loaded.spec.environments[e]?.kubernetes);
  if (targets.length === 0) return [];
  const k8s = await import('../kubernetes/index.js');
  const out: ClusterPlan[] = [];
  for (const env of targets) {
    const target = loaded.spec.environments[env]!.kubernetes!;
    const ns = target.namespace;
    const services: ServicePlanInput[] = [];
    for (const [service, s] of Object.entries(loaded.spec.services)) {
      const desired = await desiredRelease(loaded, ws, service, env);
      services.push({
        service,
        ...(desired ? { desired } : {}),
        changed: items.some(
          (i) => i.env === env && i.service === service && (i.action === 'create' || i.action === 'replace'),
        ),
        serving: store ? servingReleases(store, env, service) : [],
        scaleDownDelayMs: s.deploy.scaleDownDelayMs,
      });
    }
    const policies = admissionPolicies(loaded, env);
    const gwns = target.gatewayNamespace;
    const base = {
      env,
      namespace: ns,
      ...(gwns ? { gatewayNamespace: gwns } : {}),
      policies: policies.map((p) => p.name),
      services,
    };
    try {
      const cluster = await k8s.Cluster.open({ env, target, specDir: loaded.dir });
      await cluster.version();
      const nodes = (await cluster.nodeAddresses()).map(k8s.hostCidr);
      const door: Manifest[] = [
        k8s.namespaceManifest(ns),
        ...k8s.gatesManifests(ns, env, target.gatewayNamespace),
        ...policies.flatMap((p) => k8s.policyManifests(ns, env, p)),
        ...Object.entries(loaded.spec.services).map(([service, s]) =>
          k8s.networkPolicyManifest({
            service,
            env,
            namespace: ns,
            port: s.run.port,
            ...neighbours(loaded, service),
            egress: s.run.network?.egress ?? [],
            nodeCidrs: nodes,
          }),
        ),
      ];
      const gateway = gwns
        ? [
            ...k8s.gatewayManifests({
              env,
              namespace: ns,
              gatewayNamespace: gwns,
              image: '',
              listen: loaded.spec.environments[env]!.gateway.listen,
            }),
            k8s.gatewayConfigMap(ns, env, { version: 0, config: {} as never, pools: {} }),
          ]
        : [];
      const live = await k8s.readLiveObjects(cluster, env, door, gateway);
      out.push(k8s.planClusterObjects({ ...base, live }));
    } catch (error) {
      if (!(error instanceof CairnError)) throw error;
      out.push(k8s.planClusterObjects({ ...base, unreachable: error.message }));
    }
  }
  return out;
}

/**
 * The release `cairn deploy SERVICE --image SERVICE --env ENV` would make now, or undefined when it
 * cannot be known yet (no image built, a secret without a value, no identity key to hash one).
 */
async function desiredRelease(
  loaded: LoadedSpec,
  ws: Workspace,
  service: string,
  env: string,
): Promise<ServicePlanInput['desired']> {
  if (!existsSync(ws.store)) return undefined;
  try {
    const imageDigest = (await openImageStore(ws.store).resolve(serviceRef(service))).digest;
    const files = configFileDigests(readConfigFiles(loaded, service, env));
    const config = releaseConfig(loaded.spec, service, env, files);
    const refs = (config.run.secrets ?? []) as SecretRef[];
    let secrets: SecretVersion[] = [];
    if (refs.length > 0) {
      const keyFile = identityKeyPath(ws.bundles);
      if (!existsSync(keyFile)) return undefined;
      const key = await readIdentityKey(keyFile);
      secrets = pinSecrets(service, refs, openSecretResolver(ws), (v) => keyedDigest(key, v));
      config.run.secrets = secrets as SecretRef[];
    }
    return {
      releaseId: releaseId(service, imageDigest, jsonDigest(config.run)),
      imageDigest,
      secrets,
      ...(Object.keys(files).length > 0 ? { files } : {}),
    };
  } catch (error) {
    // Not built yet, a secret without a value, an unreadable key: the name is known later.
    if (error instanceof CairnError) return undefined;
    throw error;
  }
}

/** The releases with replicas in `env` now and the secret versions and configuration files each pins. */
function servingReleases(store: StateReader, env: string, service: string): ServicePlanInput['serving'] {
  const serving = store.listServing(env).find((s) => s.service === service);
  return Object.entries(serving?.replicas ?? {})
    .filter(([, n]) => n > 0)
    .flatMap(([id]) => {
      const release = store.getRelease(id);
      if (!release) return [];
      const run = release.config.run as { secrets?: unknown[]; files?: Record<string, string> };
      return [
        {
          releaseId: id,
          secrets: (run.secrets ?? []).filter(isPin),
          ...(run.files ? { files: run.files } : {}),
        },
      ];
    });
}
