/**
 * The pod contract of cairn's in-cluster gateway: the environment variables its container gets
 * (see docs/kubernetes.md "The gateway in the cluster"), read and checked in one place.
 */
import { ValidationError } from '../../lib/index.js';
import { parseListen } from '../listen-address.js';
import { GATEWAY_NAME } from './gateway-document.js';

/** The admin listener's port when `CAIRN_GATEWAY_ADMIN_PORT` is not set. */
export const DEFAULT_ADMIN_PORT = 9464;
/** Where the kubelet mounts the pod's ServiceAccount token and the cluster's CA. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The ConfigMap the gateway watches when `CAIRN_GATEWAY_CONFIGMAP` is not set. */
export const DEFAULT_CONFIGMAP = GATEWAY_NAME;

/** What the gateway pod needs to know, from its environment. */
export interface PodEnv {
  /** host:port of the data plane (the environment's `gateway.listen`). */
  listen: string;
  /** The pod's IP (with hostNetwork, the node's): the admin listener binds there. */
  adminHost: string;
  adminPort: number;
  /** The environment's namespace, which holds the ConfigMap. */
  namespace: string;
  configMap: string;
  /** `https://host:port` of the apiserver, with the path prefix of a proxied one (no trailing slash). */
  apiserver: string;
  /** Folder of `token` and `ca.crt`. */
  serviceAccountDir: string;
}

/** Reads the pod contract from `env`; throws one ValidationError naming every missing or bad variable. */
export function parsePodEnv(env: NodeJS.ProcessEnv): PodEnv {
  const problems: string[] = [];
  const need = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) problems.push(`${name} is not set`);
    return value ?? '';
  };
  const listen = need('CAIRN_GATEWAY_LISTEN');
  if (listen) checkListen(listen, problems);
  const adminHost = need('CAIRN_POD_IP');
  const adminPort = portOf(env.CAIRN_GATEWAY_ADMIN_PORT, problems);
  const namespace = need('CAIRN_GATEWAY_NAMESPACE');
  const configMap = env.CAIRN_GATEWAY_CONFIGMAP?.trim() || DEFAULT_CONFIGMAP;
  const apiserver = apiserverOf(env, problems);
  if (problems.length > 0)
    throw new ValidationError(`starting the gateway pod: ${problems.join('; ')}`, [], {
      hint: 'the DaemonSet cairn-gateway sets these (docs/kubernetes.md, "The gateway in the cluster")',
    });
  const serviceAccountDir = env.CAIRN_SERVICE_ACCOUNT_DIR?.trim() || SERVICE_ACCOUNT_DIR;
  return { listen, adminHost, adminPort, namespace, configMap, apiserver, serviceAccountDir };
}

function checkListen(listen: string, problems: string[]): void {
  try {
    parseListen(listen);
  } catch {
    problems.push(`CAIRN_GATEWAY_LISTEN ${JSON.stringify(listen)} is not host:port`);
  }
}

function portOf(raw: string | undefined, problems: string[]): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_ADMIN_PORT;
  const port = Number(raw);
  if (Number.isInteger(port) && port > 0 && port < 65536) return port;
  problems.push(`CAIRN_GATEWAY_ADMIN_PORT ${JSON.stringify(raw)} is not a port (1-65535)`);
  return DEFAULT_ADMIN_PORT;
}

/** `CAIRN_KUBE_APISERVER`, else the in-cluster service address the kubelet sets. */
function apiserverOf(env: NodeJS.ProcessEnv, problems: string[]): string {
  const explicit = env.CAIRN_KUBE_APISERVER?.trim();
  if (explicit) {
    const base = apiserverBase(explicit);
    if (base === undefined)
      problems.push(`CAIRN_KUBE_APISERVER ${JSON.stringify(explicit)} is not https://host[:port][/path]`);
    return base ?? '';
  }
  const host = env.KUBERNETES_SERVICE_HOST?.trim();
  const port = env.KUBERNETES_SERVICE_PORT?.trim() || '443';
  if (!host) {
    problems.push('neither CAIRN_KUBE_APISERVER nor KUBERNETES_SERVICE_HOST is set');
    return '';
  }
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * An apiserver URL as a kubeconfig's `server` may give it: https, a host, an optional port and an
 * optional path prefix (an apiserver behind a proxy, e.g. `https://rancher.example/k8s/clusters/c1`).
 * Returns it without a trailing slash, or undefined when it is not such a URL (plain http included:
 * the pod sends its token only over TLS).
 */
export function apiserverBase(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || !url.hostname || url.username || url.password || url.search || url.hash)
    return undefined;
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
