/**
 * The part of `@kubernetes/client-node` cairn uses, typed here and loaded on first use: a control
 * plane without a Kubernetes environment never loads the library (a large one), and cairn builds
 * and runs where it is not installed. Only what cairn reads of each object is typed.
 */
import { DriverError } from '../lib/index.js';

/** Resolved at run time, so type checking and other environments do not need the package. */
const MODULE: string = '@kubernetes/client-node';

/** A pod, as far as cairn reads it. */
export interface Pod {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: unknown;
    ownerReferences?: Array<{ kind?: string }>;
  };
  spec?: { containers?: Array<{ image?: string; ports?: Array<{ containerPort?: number }> }> };
  status?: {
    phase?: string;
    podIP?: string;
    reason?: string;
    message?: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{
      restartCount?: number;
      state?: { waiting?: { reason?: string; message?: string } };
      lastState?: { terminated?: { reason?: string; exitCode?: number } };
    }>;
  };
}

/** A list-then-watch of pods (the library's informer). */
export interface PodWatch {
  on(verb: 'add' | 'update' | 'delete', cb: (pod: Pod) => void): void;
  on(verb: 'error', cb: (error?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  list(): readonly Pod[];
}

interface Named {
  metadata?: { name?: string; labels?: Record<string, string> };
}

export interface KubeConfigLike {
  loadFromFile(file: string): void;
  getContextObject(name: string): unknown;
  getContexts(): Array<{ name: string }>;
  setCurrentContext(name: string): void;
  getCurrentCluster(): { server: string } | null;
  makeApiClient<T>(api: new (...args: never[]) => T): T;
  /** Puts the credential and TLS trust of the current context into request options. */
  applyToHTTPSOptions(opts: import('node:https').RequestOptions): Promise<void>;
}

interface AppsApi {
  deleteNamespacedDeployment(p: { name: string; namespace: string }): Promise<unknown>;
  listNamespacedDeployment(p: { namespace: string; labelSelector: string }): Promise<{ items: Named[] }>;
}
interface CoreApi {
  listNamespacedPod(p: { namespace: string; labelSelector: string }): Promise<{ items: Pod[] }>;
  readNamespacedPodLog(p: { name: string; namespace: string; tailLines?: number }): Promise<string>;
}
/** Any object, as the generic API returns it. */
export type KubeObject = { apiVersion?: string; kind?: string; metadata?: Record<string, unknown> } & Record<
  string,
  unknown
>;

/** A list-then-watch of any kind of object (the library's informer). */
export interface ObjectWatch<T = KubeObject> {
  on(verb: 'add' | 'update' | 'delete', cb: (o: T) => void): void;
  on(verb: 'error', cb: (error?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  list(): readonly T[];
}

interface ObjectsApi {
  list(
    apiVersion: string,
    kind: string,
    namespace?: string,
    pretty?: string,
    exact?: boolean,
    exportt?: boolean,
    fieldSelector?: string,
    labelSelector?: string,
  ): Promise<{ items: KubeObject[]; metadata?: { resourceVersion?: string } }>;
  read(o: object): Promise<KubeObject>;
  create(o: object, pretty?: string, dryRun?: string, fieldManager?: string): Promise<KubeObject>;
  replace(o: object, pretty?: string, dryRun?: string, fieldManager?: string): Promise<KubeObject>;
  delete(o: object): Promise<unknown>;
  patch(
    o: object,
    pretty?: string,
    dryRun?: string,
    fieldManager?: string,
    force?: boolean,
    strategy?: string,
  ): Promise<unknown>;
}

/** The library's exports cairn uses. */
export interface ClientLibrary {
  KubeConfig: new () => KubeConfigLike;
  KubernetesObjectApi: { makeApiClient(kc: KubeConfigLike): ObjectsApi };
  AppsV1Api: new (...args: never[]) => AppsApi;
  CoreV1Api: new (...args: never[]) => CoreApi;
  VersionApi: new (...args: never[]) => { getCode(): Promise<{ gitVersion: string }> };
  AuthorizationV1Api: new (
    ...args: never[]
  ) => { createSelfSubjectAccessReview(p: { body: object }): Promise<{ status?: { allowed?: boolean } }> };
  PatchStrategy: { ServerSideApply: string };
  /** The pod log API (`pods/log`), streamed into `stream`; the controller ends the request. */
  Log: new (
    kc: KubeConfigLike,
  ) => {
    log(
      namespace: string,
      pod: string,
      container: string,
      stream: NodeJS.WritableStream,
      options: { follow?: boolean; tailLines?: number },
    ): Promise<AbortController>;
  };
  makeInformer(
    kc: KubeConfigLike,
    path: string,
    list: () => Promise<{ items: Pod[] }>,
    labelSelector?: string,
  ): PodWatch;
  makeInformer<T>(
    kc: KubeConfigLike,
    path: string,
    list: () => Promise<{ items: T[] }>,
    labelSelector?: string,
  ): ObjectWatch<T>;
}

let loaded: Promise<ClientLibrary> | undefined;

/** Loads the client library once; a missing install is an error that says how to fix it. */
export function clientLibrary(env: string): Promise<ClientLibrary> {
  loaded ??= (import(MODULE) as Promise<ClientLibrary>).catch((error: unknown) => {
    loaded = undefined;
    throw new DriverError(
      `loading the Kubernetes client for environment ${env}: ${(error as Error).message}`,
      {
        hint: 'run `npm install` in cairn (it needs @kubernetes/client-node 1.4)',
        cause: error,
      },
    );
  });
  return loaded;
}
