/**
 * One environment's connection to its cluster: the kubeconfig and context it names, server-side
 * apply with the field manager `cairn`, and a watch of the pods cairn made there. Every failure
 * becomes a DriverError that names the environment and says what to fix.
 */
import { once } from 'node:events';
import type { RequestOptions } from 'node:https';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { DriverError } from '../lib/index.js';
import type { KubernetesTarget } from '../spec/index.js';
import { ApiGetter } from './api-get.js';
import {
  type ClientLibrary,
  clientLibrary,
  type KubeConfigLike,
  type KubeObject,
  type ObjectWatch,
  type Pod,
  type PodWatch,
} from './client.js';
import { FIELD_MANAGER, LABEL, type Manifest } from './manifests.js';

/** How long one call may take before the cluster counts as unreachable. */
const CALL_TIMEOUT_MS = 10_000;
/** Tries of a restore that meets a newer version of the object (409). */
const RESTORE_ATTEMPTS = 5;

export interface ClusterConfig {
  env: string;
  target: KubernetesTarget;
  /** The folder of cairn.yaml: a relative kubeconfig is resolved against it. */
  specDir: string;
}

export class Cluster {
  readonly namespace: string;
  readonly server: string;
  private readonly kc: KubeConfigLike;
  private readonly getter: ApiGetter;

  private constructor(
    private readonly config: ClusterConfig,
    private readonly lib: ClientLibrary,
  ) {
    this.namespace = config.target.namespace;
    this.kc = loadKubeconfig(config, lib);
    this.server = this.kc.getCurrentCluster()?.server ?? '(no server)';
    this.getter = new ApiGetter(this.server, async () => {
      const opts: RequestOptions = {};
      await this.kc.applyToHTTPSOptions(opts);
      return opts;
    });
  }

  /**
   * GET `path` of a pod's listener on `port` through the apiserver's pod proxy, as JSON. Not
   * wrapped in a DriverError: the callers (the in-cluster gateway's router) poll and say what failed.
   */
  podProxyGet(
    namespace: string,
    pod: string,
    port: number,
    path: string,
    timeoutMs: number,
  ): Promise<unknown> {
    return this.getter.json(`/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy${path}`, timeoutMs);
  }

  /** Closes the keep-alive connections of pod proxy reads. */
  close(): void {
    this.getter.close();
  }

  /** Reads the environment's kubeconfig (and loads the client library on first use). */
  static async open(config: ClusterConfig): Promise<Cluster> {
    return new Cluster(config, await clientLibrary(config.env));
  }

  /** Asks the apiserver its version: proves the address, the TLS trust and the credential. */
  async version(): Promise<string> {
    const info = await this.call('reaching the cluster', () =>
      this.kc.makeApiClient(this.lib.VersionApi).getCode(),
    );
    return info.gitVersion;
  }

  /** Server-side apply of each object in order, as field manager `cairn` (conflicts are forced). */
  async apply(objects: Manifest[], manager = FIELD_MANAGER): Promise<void> {
    const api = this.objects();
    const ssa = this.lib.PatchStrategy.ServerSideApply;
    for (const object of objects) {
      const what = `applying ${object.kind} ${String(object.metadata.name)}`;
      await this.call(what, () => api.patch(forClient(object), undefined, undefined, manager, true, ssa));
    }
  }

  /**
   * Puts cairn's whole object back over a live one (fields anyone added are gone), then applies it
   * so cairn owns its fields again: the repair of a drifted Deployment.
   */
  async restore(object: Manifest): Promise<void> {
    const api = this.objects();
    const name = String(object.metadata.name);
    await this.call(`restoring ${object.kind} ${name}`, async () => {
      // The controllers write the object all the time: a stale resourceVersion is read again.
      for (let attempt = 1; ; attempt++) {
        const live = await api.read(object);
        const resourceVersion = (live.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
        const whole = { ...object, metadata: { ...object.metadata, resourceVersion } };
        try {
          return await api.replace(forClient(whole), undefined, undefined, FIELD_MANAGER);
        } catch (error) {
          if ((error as { code?: unknown }).code !== 409 || attempt >= RESTORE_ATTEMPTS) throw error;
        }
      }
    });
    await this.apply([object]);
  }

  /** The live object, or undefined when there is none (404). */
  async read(object: Manifest): Promise<KubeObject | undefined> {
    return this.call(`reading ${object.kind} ${String(object.metadata.name)}`, () =>
      this.objects()
        .read(object)
        .catch((e: { code?: unknown }) => {
          if (e.code === 404) return undefined;
          throw e;
        }),
    );
  }

  /** What a server-side apply of `object` would make of it (`dryRun: All`: nothing is written). */
  async dryRunApply(object: Manifest): Promise<KubeObject> {
    const ssa = this.lib.PatchStrategy.ServerSideApply;
    return this.call(`dry-run applying ${object.kind} ${String(object.metadata.name)}`, () =>
      this.objects().patch(forClient(object), undefined, 'All', FIELD_MANAGER, true, ssa),
    ) as Promise<KubeObject>;
  }

  /** Objects of a kind, in this namespace (or cluster-wide for a cluster-scoped kind). */
  async list(apiVersion: string, kind: string, labelSelector?: string, clusterScoped = false) {
    return (await this.listObject(apiVersion, kind, labelSelector, clusterScoped)).items;
  }

  private listObject(
    apiVersion: string,
    kind: string,
    labelSelector?: string,
    clusterScoped = false,
    namespace = this.namespace,
  ) {
    const api = this.objects();
    const ns = clusterScoped ? undefined : namespace;
    return this.call(`listing ${kind}s`, () =>
      api.list(apiVersion, kind, ns, undefined, undefined, undefined, undefined, labelSelector),
    );
  }

  /** Deletes an object; one already gone is fine. */
  async remove(object: { apiVersion: string; kind: string; metadata: Record<string, unknown> }) {
    await this.call(`deleting ${object.kind} ${String(object.metadata.name)}`, () =>
      this.objects()
        .delete(object)
        .catch((e: { code?: unknown }) => {
          if (e.code !== 404) throw e;
        }),
    );
  }

  /** Whether this credential may do `verb` on `resource` (a SelfSubjectAccessReview). */
  async allowed(attributes: Record<string, string>): Promise<boolean> {
    const auth = this.kc.makeApiClient(this.lib.AuthorizationV1Api);
    const body = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: attributes },
    };
    const review = await this.call('asking what this credential may do', () =>
      auth.createSelfSubjectAccessReview({ body }),
    );
    return review.status?.allowed === true;
  }

  /** What a pod's container wrote (stdout and stderr, as the kubelet keeps it), the last `tailLines` when given. */
  podLog(name: string, tailLines?: number): Promise<string> {
    const core = this.kc.makeApiClient(this.lib.CoreV1Api);
    return this.call(`reading the log of pod ${name}`, () =>
      core.readNamespacedPodLog({
        name,
        namespace: this.namespace,
        ...(tailLines !== undefined ? { tailLines } : {}),
      }),
    );
  }

  /**
   * Follows a pod's log (`follow=true`; the last `tailLines` first) into `write` until `signal`
   * aborts or the container's stream ends (the container stopped, the pod went away).
   */
  async followPodLog(
    name: string,
    write: (text: string) => void,
    signal: AbortSignal,
    tailLines?: number,
  ): Promise<void> {
    const stub = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: this.namespace } };
    const pod = (await this.read(stub)) as
      | (Pod & { spec?: { containers?: Array<{ name?: string }> } })
      | undefined;
    if (!pod)
      throw clusterError(this.config.env, this.server, `following the log of pod ${name}`, { code: 404 });
    // The apiserver answers a bare 400 for a container that never ran: say why instead.
    const waiting = notStartedReason(pod);
    if (waiting)
      throw new DriverError(
        `following the log of pod ${name} in environment ${this.config.env}: its container has not started yet (${waiting})`,
        {
          hint: 'try again once it runs (`cairn ps`); `cairn logs SERVICE --env ENV -f` picks pods up as they start',
        },
      );
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        write(chunk.toString('utf8'));
        done();
      },
    });
    const container = pod.spec?.containers?.[0]?.name ?? '';
    const options = { follow: true, ...(tailLines !== undefined ? { tailLines } : {}) };
    const request = await this.call(`following the log of pod ${name}`, () =>
      new this.lib.Log(this.kc).log(this.namespace, name, container, sink, options),
    );
    try {
      // Waited for only once the stream is open (the body flows from a later tick), so a pod that
      // cannot be followed yet leaves no listener on the shared signal; an abort that came first
      // ends it at once.
      await once(sink, 'finish', { signal }).catch(() => undefined);
    } finally {
      stopStream(request);
    }
  }

  /** The nodes' InternalIP addresses. */
  async nodeAddresses(): Promise<string[]> {
    const nodes = (await this.list('v1', 'Node', undefined, true)) as Array<{
      status?: { addresses?: Array<{ type: string; address: string }> };
    }>;
    return nodes.flatMap((n) =>
      (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address),
    );
  }

  /** A list-then-watch of `kind` objects in the namespace (or cluster-wide), by label. */
  watch<T = KubeObject>(
    apiVersion: string,
    kind: string,
    labelSelector?: string,
    clusterScoped = false,
    namespace = this.namespace,
  ): ObjectWatch<T> {
    const group = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const lower = kind.toLowerCase();
    const plural = lower.endsWith('y') ? `${lower.slice(0, -1)}ies` : `${lower}s`;
    const scope = clusterScoped ? '' : `/namespaces/${namespace}`;
    return this.lib.makeInformer<T>(
      this.kc,
      `${group}${scope}/${plural}`,
      async () =>
        (await this.listObject(apiVersion, kind, labelSelector, clusterScoped, namespace)) as unknown as {
          items: T[];
        },
      labelSelector,
    );
  }

  /**
   * Read-modify-write of one object: `next` gets the live one (undefined when there is none) and
   * returns what it must be; written with its resourceVersion (read again on a 409) or created.
   */
  async update(
    object: { apiVersion: string; kind: string; metadata: Record<string, unknown> },
    next: (live: KubeObject | undefined) => Manifest,
  ): Promise<void> {
    const api = this.objects();
    await this.call(`writing ${object.kind} ${String(object.metadata.name)}`, async () => {
      for (let attempt = 1; ; attempt++) {
        const live = await api.read(object).catch((e: { code?: unknown }) => {
          if (e.code === 404) return undefined;
          throw e;
        });
        const version = (live?.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
        const want = next(live);
        try {
          if (!live) return await api.create(forClient(want), undefined, undefined, FIELD_MANAGER);
          const whole = { ...want, metadata: { ...want.metadata, resourceVersion: version } };
          return await api.replace(forClient(whole), undefined, undefined, FIELD_MANAGER);
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if ((code !== 409 && code !== 404) || attempt >= RESTORE_ATTEMPTS) throw error;
        }
      }
    });
  }

  private objects() {
    return this.lib.KubernetesObjectApi.makeApiClient(this.kc);
  }

  /** Deletes a Deployment (its pods go with it); one already gone is fine. */
  async deleteDeployment(name: string): Promise<void> {
    const apps = this.kc.makeApiClient(this.lib.AppsV1Api);
    await this.call(`deleting Deployment ${name}`, () =>
      apps.deleteNamespacedDeployment({ name, namespace: this.namespace }).catch((e: { code?: unknown }) => {
        if (e.code !== 404) throw e;
      }),
    );
  }

  /** The release of each Deployment cairn made for `service` in this environment, by name. */
  async releasesOf(service: string): Promise<Map<string, string>> {
    const apps = this.kc.makeApiClient(this.lib.AppsV1Api);
    const labelSelector = `${LABEL.env}=${this.config.env},${LABEL.service}=${service}`;
    const list = await this.call(`listing the Deployments of ${service}`, () =>
      apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector }),
    );
    return new Map(
      list.items.map((d) => [d.metadata?.name ?? '', d.metadata?.labels?.[LABEL.release] ?? '']),
    );
  }

  /** A list-then-watch of the pods of this environment (cairn's labels), kept current by the apiserver. */
  watchPods(): PodWatch {
    const core = this.kc.makeApiClient(this.lib.CoreV1Api);
    const selector = `${LABEL.env}=${this.config.env}`;
    return this.lib.makeInformer(
      this.kc,
      `/api/v1/namespaces/${this.namespace}/pods`,
      () => core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector }),
      selector,
    );
  }

  /** Runs one API call with a deadline; errors name the environment, the action and a fix. */
  private async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer in ${CALL_TIMEOUT_MS / 1000} s`)),
        CALL_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([fn(), deadline]);
    } catch (error) {
      throw clusterError(this.config.env, this.server, action, error);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Why a pod's container has never run (so it has no log yet), or undefined once it has. */
function notStartedReason(pod: Pod): string | undefined {
  const status = pod.status?.containerStatuses?.[0];
  if (!status) return pod.status?.phase === 'Pending' ? 'Pending' : undefined;
  const waiting = status.state?.waiting;
  return waiting && !status.restartCount ? (waiting.reason ?? 'waiting') : undefined;
}

/** Ends a streamed request; the library re-emits the abort on the response body, which nobody needs. */
function stopStream(request: AbortController): void {
  try {
    request.abort();
  } catch {
    // Already ended.
  }
}

/**
 * The client library serializes an object through its typed model, which names `from` of a
 * NetworkPolicy ingress rule `_from` (a reserved word in its generator) and drops a plain `from`:
 * a rule without sources would allow every source. Renamed here, for the library only.
 */
function forClient(object: Manifest): Manifest {
  if (object.kind !== 'NetworkPolicy') return object;
  const spec = object.spec as { ingress?: Array<Record<string, unknown>> };
  const ingress = spec.ingress?.map(({ from, ...rule }) => (from ? { ...rule, _from: from } : rule));
  return { ...object, spec: { ...spec, ...(ingress ? { ingress } : {}) } };
}

function loadKubeconfig({ env, target, specDir }: ClusterConfig, lib: ClientLibrary): KubeConfigLike {
  const file = resolve(specDir, target.kubeconfig);
  const kc = new lib.KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (error) {
    throw new DriverError(`loading the kubeconfig of environment ${env}: ${reason(error)}`, {
      hint: `check environments.${env}.kubernetes.kubeconfig (${target.kubeconfig}), relative to cairn.yaml or absolute`,
      cause: error,
    });
  }
  if (target.context) {
    if (!kc.getContextObject(target.context)) {
      throw new DriverError(
        `using context ${target.context} for environment ${env}: the kubeconfig has no such context`,
        {
          hint: `contexts there: ${
            kc
              .getContexts()
              .map((c) => c.name)
              .join(', ') || 'none'
          }`,
        },
      );
    }
    kc.setCurrentContext(target.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new DriverError(`using the kubeconfig of environment ${env}: its context names no cluster`, {
      hint: `set environments.${env}.kubernetes.context, or a current-context in ${target.kubeconfig}`,
    });
  }
  return kc;
}

/** A failed API call as the user should read it: what cairn did, where, what came back, what to do. */
export function clusterError(env: string, server: string, action: string, error: unknown): DriverError {
  const e = error as { code?: unknown };
  const status = typeof e.code === 'number' ? e.code : undefined;
  const hint =
    status === 401
      ? 'the kubeconfig credential was refused (expired?): get a fresh kubeconfig'
      : status === 403
        ? 'the credential lacks a permission: docs/kubernetes.md lists the RBAC cairn needs'
        : status === undefined
          ? `check that the cluster at ${server} is up and that environments.${env}.kubernetes.kubeconfig points at it`
          : undefined;
  return new DriverError(`${action} in environment ${env} (${server}): ${reason(error)}`, {
    ...(hint ? { hint } : {}),
    cause: error,
  });
}

function reason(error: unknown): string {
  const e = error as { code?: unknown; body?: unknown; message?: string; cause?: { code?: string } };
  if (typeof e.code === 'number') {
    const body = typeof e.body === 'string' ? safeMessage(e.body) : undefined;
    return `the apiserver answered ${e.code}${body ? `: ${body}` : ''}`;
  }
  return (e.cause?.code ?? e.message ?? String(error)).toString().split('\n')[0]!.toLowerCase();
}

/** The `message` of a Kubernetes Status body (never the object sent, which may hold a secret). */
function safeMessage(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { message?: string }).message;
  } catch {
    return undefined;
  }
}
