/**
 * The pods of a Kubernetes environment as cairn's instances: each pod the watch reports becomes
 * (or updates) an instance record — `starting`, `healthy` once its readiness probe passes,
 * `draining` while it terminates, `stopped` or `failed` when it is gone — so the rollout machine,
 * `cairn status` and `cairn ps` read a cluster as they read this machine. The cluster is the truth
 * for what runs; the records follow it.
 */
import type { AuditLog } from '../audit/index.js';
import type { InstanceRecord, InstanceState, SqliteStateStore } from '../state/index.js';
import type { Pod } from './client.js';
import { LABEL } from './manifests.js';

export const KUBERNETES_DRIVER = 'kubernetes';
const ACTOR = 'cairn-up';

export interface PodMirrorDeps {
  store: SqliteStateStore;
  audit: AuditLog;
  env: string;
  /** Told when a pod of `service` changed state (the reconciler re-points the gateway). */
  changed?: (service: string) => void;
}

/** What one pod is, in cairn's words; pure. */
export function podState(pod: Pod, gone = false): InstanceState {
  const phase = pod.status?.phase;
  if (phase === 'Failed' || crashLooping(pod)) return 'failed';
  if (gone || phase === 'Succeeded') return 'stopped';
  if (pod.metadata?.deletionTimestamp) return 'draining';
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  return ready ? 'healthy' : 'starting';
}

export class PodMirror {
  constructor(private readonly deps: PodMirrorDeps) {}

  /** A pod was added or changed. */
  seen(pod: Pod): void {
    this.record(pod, podState(pod));
  }

  /** A pod was deleted. */
  gone(pod: Pod): void {
    this.record(pod, podState(pod, true));
  }

  /** Pods that exist no more (missed while the watch was down): their records end. */
  forgetAllBut(pods: readonly Pod[]): void {
    const names = new Set(pods.map((p) => p.metadata?.name));
    for (const i of this.deps.store.listInstances({ env: this.deps.env, live: true }))
      if (i.driver === KUBERNETES_DRIVER && !names.has(i.id))
        this.end(i, 'stopped', 'pod gone from the cluster');
  }

  private record(pod: Pod, state: InstanceState): void {
    const labels = pod.metadata?.labels ?? {};
    const id = pod.metadata?.name;
    const releaseId = labels[LABEL.release];
    const service = labels[LABEL.service];
    if (!id || !releaseId || !service || labels[LABEL.env] !== this.deps.env) return;
    // A pod with cairn's labels but a release this workspace never made is not one of its instances.
    if (!this.deps.store.getRelease(releaseId)) return;
    const before = this.deps.store.getInstance(id);
    if (!before) {
      if (state === 'stopped' || state === 'failed') return;
      this.start(pod, { id, releaseId, service }, state);
    } else if (before.state !== state && before.state !== 'stopped' && before.state !== 'failed') {
      if (state === 'stopped' || state === 'failed') this.end(before, state, reasonOf(pod, state));
      else this.move(before, state, pod);
    } else return;
    this.deps.changed?.(service);
  }

  private start(
    pod: Pod,
    ids: { id: string; releaseId: string; service: string },
    state: InstanceState,
  ): void {
    const now = new Date().toISOString();
    const image = pod.spec?.containers?.[0]?.image ?? '';
    const record: InstanceRecord = {
      ...ids,
      env: this.deps.env,
      driver: KUBERNETES_DRIVER,
      state,
      ...endpointOf(pod),
      handle: { namespace: pod.metadata?.namespace, pod: ids.id, uid: pod.metadata?.uid },
      identity: { imageDigest: image.slice(image.indexOf('@') + 1) },
      reason: 'pod created by its Deployment',
      createdAt: now,
      updatedAt: now,
    };
    this.deps.store.transaction((tx) => {
      tx.putInstance(record);
      tx.appendEvent({
        kind: 'instance.started',
        env: this.deps.env,
        service: ids.service,
        subject: ids.id,
        detail: { release: ids.releaseId, reason: record.reason },
      });
      this.deps.audit.record({
        actor: ACTOR,
        action: 'instance.start',
        subject: { service: ids.service, env: this.deps.env, release: ids.releaseId, instance: ids.id },
        reason: record.reason,
        detail: { driver: KUBERNETES_DRIVER, namespace: pod.metadata?.namespace, image },
      });
    });
  }

  private move(before: InstanceRecord, state: InstanceState, pod: Pod): void {
    const next = {
      ...before,
      ...endpointOf(pod),
      state,
      reason: reasonOf(pod, state),
      updatedAt: new Date().toISOString(),
    };
    this.deps.store.transaction((tx) => {
      tx.putInstance(next);
      tx.appendEvent({
        kind: `instance.${state}`,
        env: before.env,
        service: before.service,
        subject: before.id,
        detail: { reason: next.reason },
      });
    });
  }

  private end(before: InstanceRecord, state: 'stopped' | 'failed', reason: string): void {
    const now = new Date().toISOString();
    this.deps.store.transaction((tx) => {
      tx.putInstance({ ...before, state, reason, updatedAt: now, stoppedAt: now });
      tx.appendEvent({
        kind: `instance.${state}`,
        env: before.env,
        service: before.service,
        subject: before.id,
        detail: { reason },
      });
      this.deps.audit.record({
        actor: ACTOR,
        action: state === 'stopped' ? 'instance.stop' : 'instance.failed',
        subject: { service: before.service, env: before.env, release: before.releaseId, instance: before.id },
        reason,
      });
    });
  }
}

function endpointOf(pod: Pod): { endpoint?: string } {
  const ip = pod.status?.podIP;
  const port = pod.spec?.containers?.[0]?.ports?.[0]?.containerPort;
  return ip && port ? { endpoint: `${ip}:${port}` } : {};
}

/** The container that exited and that the kubelet now waits to restart (CrashLoopBackOff), if any. */
function crashLooping(pod: Pod) {
  return pod.status?.containerStatuses?.find((c) => c.state?.waiting?.reason === 'CrashLoopBackOff');
}

/** `the container exited with code 1 (Error), 1 restart(s), CrashLoopBackOff` */
function crashReason(pod: Pod): string | undefined {
  const c = crashLooping(pod);
  if (!c) return undefined;
  const end = c.lastState?.terminated;
  const exit = end ? `exited with code ${end.exitCode ?? '?'} (${end.reason ?? 'no reason'})` : 'exited';
  return `the container ${exit}, ${c.restartCount ?? 0} restart(s), CrashLoopBackOff`;
}

function reasonOf(pod: Pod, state: InstanceState): string {
  if (state === 'healthy') return 'readiness probe passed';
  if (state === 'failed') {
    const crash = crashReason(pod);
    if (crash) return crash;
  }
  if (state === 'draining') return 'pod terminating';
  if (state === 'starting') return 'pod not ready';
  return pod.status?.reason ?? pod.status?.message?.split('\n')[0] ?? `pod ${state}`;
}
