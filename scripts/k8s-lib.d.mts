export const K8S_VERSION: string;
export const CACHE: string;
export const BIN: string;
export const KUBECTL: string;
export const STATE: string;
export const KUBECONFIG: string;
export function missingTestbedFiles(): string[];
export function startRegistry(dir: string): Promise<{ address: string; stop: () => void }>;
export function helloOnKubernetes(options: {
  port: number;
  registry: string;
  namespace: string;
  scaleDownDelay: string;
  secrets?: boolean;
  policies?: string[];
  moreEnvironments?: string;
  /** cairn's gateway in the cluster, in this namespace, and a canary with analysis. */
  gatewayNamespace?: string;
  /** Default: true with a gatewayNamespace (blue/green otherwise). */
  canary?: boolean;
}): string;
