/**
 * Checks of `environments.<name>.kubernetes`: a namespace the apiserver accepts, a registry written
 * as an address (not a URL or a tag), and a driver that agrees with the block. The kubeconfig is a
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
  if (typeof namespace === 'string') {
    if (!DNS_LABEL.test(namespace))
      ctx.error(
        [...at, 'kubernetes', 'namespace'],
        `namespace "${namespace}" is not a DNS label: lower-case letters, digits and "-", at most 63`,
      );
    else if (namespace.startsWith('kube-') || namespace === 'default')
      ctx.error(
        [...at, 'kubernetes', 'namespace'],
        `namespace "${namespace}" belongs to the cluster; give ${name} a namespace of its own`,
      );
  }
  if (typeof registry === 'string' && !REGISTRY.test(registry)) {
    ctx.error(
      [...at, 'kubernetes', 'registry'],
      `registry "${registry}" is not HOST[:PORT][/PATH]: write it without a scheme, tag or digest, e.g. 127.0.0.1:5000/cairn`,
    );
  }
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
    if (typeof k.namespace !== 'string' || typeof k.kubeconfig !== 'string') continue;
    const key = `${k.kubeconfig}\n${String(k.context ?? '')}\n${k.namespace}`;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, name);
      continue;
    }
    ctx.error(
      ['environments', name, 'kubernetes', 'namespace'],
      `environments ${first} and ${name} share namespace "${k.namespace}" of one cluster; give each a namespace of its own`,
    );
  }
}
