/**
 * Checks of `environments.<name>.kubernetes`: a namespace the apiserver accepts, a registry written
 * as an address (not a URL or a tag), a gateway namespace of its own, and a driver that agrees with the block. The kubeconfig is a
 * credential that CI often lacks, so a missing file is a warning, not an error.
 */
import type { PathPart } from './validate.js';

type Obj = Record<string, unknown>;

interface Ctx {
  error(path: PathPart[], message: string): void;
  warn(path: PathPart[], message: string): void;
  fileKind(path: string): 'file' | 'dir' | undefined;
}

/** A DNS-1123 label, as Kubernetes requires of a namespace's name. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** host[:port][/path], lower-case path segments as OCI repositories require. */
const REGISTRY = /^(\[[0-9a-f:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

export function checkKubernetes(name: string, env: Obj, ctx: Ctx): void {
  const at = ['environments', name];
  const block = env.kubernetes === undefined ? undefined : asObj(env.kubernetes);
  if (env.driver === 'kubernetes' && !block) {
    ctx.error(
      [...at, 'driver'],
      `environment ${name} has driver kubernetes but no cluster; add environments.${name}.kubernetes with kubeconfig, namespace and registry`,
    );
  }
  if (!block) return;
  if (env.driver !== undefined && env.driver !== 'auto' && env.driver !== 'kubernetes') {
    ctx.error(
      [...at, 'driver'],
      `environment ${name} lives in a Kubernetes cluster but names driver ${String(env.driver)}; remove driver or write driver: kubernetes`,
    );
  }
  const { kubeconfig, namespace, registry } = block;
  if (typeof kubeconfig === 'string' && ctx.fileKind(kubeconfig) !== 'file') {
    ctx.warn(
      [...at, 'kubernetes', 'kubeconfig'],
      `kubeconfig "${kubeconfig}" does not exist here; deploys to ${name} need it (relative to cairn.yaml, or absolute)`,
    );
  }
  checkNamespaceName(name, namespace, [...at, 'kubernetes', 'namespace'], ctx);
  const gatewayNamespace = block.gatewayNamespace;
  checkNamespaceName(name, gatewayNamespace, [...at, 'kubernetes', 'gatewayNamespace'], ctx);
  if (typeof gatewayNamespace === 'string' && gatewayNamespace === namespace)
    ctx.error(
      [...at, 'kubernetes', 'gatewayNamespace'],
      `gatewayNamespace "${gatewayNamespace}" is the environment's own namespace, which admits only hardened release pods; give the gateway a namespace of its own, e.g. ${namespace}-gateway`,
    );
  if (typeof gatewayNamespace === 'string' && asObj(env.gateway).engine === 'haproxy')
    ctx.error(
      [...at, 'gateway', 'engine'],
      `environment ${name} runs its gateway in the cluster (gatewayNamespace), which is cairn's builtin engine; remove gateway.engine: haproxy`,
    );
  const listen = asObj(env.gateway).listen;
  const port = typeof listen === 'string' ? Number(/:(\d{1,5})$/.exec(listen)?.[1]) : Number.NaN;
  if (typeof gatewayNamespace === 'string' && port < 1024)
    ctx.error(
      [...at, 'gateway', 'listen'],
      `environment ${name} runs its gateway in the cluster (gatewayNamespace), whose pods drop every capability and cannot bind port ${port}; give gateway.listen a port from 1024 up, e.g. ${String(listen).replace(/:\d+$/, ':8443')}`,
    );
  if (typeof registry === 'string' && !REGISTRY.test(registry)) {
    ctx.error(
      [...at, 'kubernetes', 'registry'],
      `registry "${registry}" is not HOST[:PORT][/PATH]: write it without a scheme, tag or digest, e.g. 127.0.0.1:5000/cairn`,
    );
  }
}

function checkNamespaceName(env: string, namespace: unknown, path: PathPart[], ctx: Ctx): void {
  if (typeof namespace !== 'string') return;
  if (!DNS_LABEL.test(namespace))
    ctx.error(
      path,
      `namespace "${namespace}" is not a DNS label: lower-case letters, digits and "-", at most 63`,
    );
  else if (namespace.startsWith('kube-') || namespace === 'default')
    ctx.error(path, `namespace "${namespace}" belongs to the cluster; give ${env} a namespace of its own`);
}

/**
 * Two environments in one namespace of one cluster (same kubeconfig and context) would share its
 * door — the allow-list and the admission policies are per namespace — and remove each other's
 * Deployments: refused.
 */
export function checkSharedNamespaces(envs: Obj, ctx: Ctx): void {
  const seen = new Map<string, string>();
  for (const [name, raw] of Object.entries(envs)) {
    const k = asObj(asObj(raw).kubernetes);
    if (typeof k.kubeconfig !== 'string') continue;
    const cluster = `${k.kubeconfig}\n${String(k.context ?? '')}`;
    for (const key of ['namespace', 'gatewayNamespace'] as const) {
      const ns = k[key];
      if (typeof ns !== 'string' || (key === 'gatewayNamespace' && ns === k.namespace)) continue;
      const first = seen.get(`${cluster}\n${ns}`);
      if (!first) {
        seen.set(`${cluster}\n${ns}`, name);
        continue;
      }
      ctx.error(
        ['environments', name, 'kubernetes', key],
        `environments ${first} and ${name} share namespace "${ns}" of one cluster; give each a namespace of its own`,
      );
    }
  }
}

/**
 * An in-cluster gateway reads its routes from a ConfigMap, and a secret never goes in a
 * ConfigMap: a route with an HS256 secret is refused where an environment has a gatewayNamespace.
 */
export function checkInClusterRoutes(envs: Obj, routes: unknown[], ctx: Ctx): void {
  const inCluster = Object.entries(envs)
    .filter(([, raw]) => typeof asObj(asObj(raw).kubernetes).gatewayNamespace === 'string')
    .map(([name]) => name);
  if (inCluster.length === 0) return;
  routes.forEach((raw, i) => {
    if (typeof asObj(asObj(raw).auth).secret !== 'string') return;
    ctx.error(
      ['routes', i, 'auth', 'secret'],
      `route ${i} authenticates with an HS256 secret, which cairn's in-cluster gateway (environment ${inCluster.join(', ')}) cannot get without putting it in a ConfigMap; use auth.jwks (RS256/ES256) or remove gatewayNamespace`,
    );
  });
}
