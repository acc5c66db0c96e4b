/** Read models for `cairn status` and `cairn history`, from the state store. Pure over a reader. */

import type { DriftEnvStatus } from '../drift/index.js';
import type { RolloutState } from '../rollout/index.js';
import type { InstanceView, ReleaseView, RolloutView, ServiceStatus, SvidView } from './views.js';

export type { InstanceView, ReleaseView, RolloutView, ServiceStatus } from './views.js';

import type { DeploymentRecord, StateReader } from '../state/index.js';

export function rolloutView(d: DeploymentRecord): RolloutView {
  const s = d.state as unknown as RolloutState;
  return {
    id: d.id,
    strategy: d.strategy,
    ...(s.from ? { from: s.from } : {}),
    to: s.to,
    phase: s.phase,
    stage: s.stage,
    step: s.step,
    steps: s.settings.steps.length,
    stepList: s.settings.steps.map(describeStep),
    weight: s.weight,
    ...(s.reason ? { reason: s.reason } : {}),
    ...(s.verdicts.length ? { lastVerdict: s.verdicts.at(-1)! } : {}),
    ...(s.rollbackSwitchMs !== undefined ? { rollbackSwitchMs: s.rollbackSwitchMs } : {}),
    createdAt: d.createdAt,
    ...(d.finishedAt
      ? { finishedAt: d.finishedAt, durationMs: Date.parse(d.finishedAt) - Date.parse(d.createdAt) }
      : {}),
  };
}

function describeStep(step: RolloutState['settings']['steps'][number]): string {
  const parts: string[] = [];
  if (step.weight !== undefined) parts.push(`weight ${step.weight}%`);
  const pause = step.pauseMs ?? step.pause?.durationMs;
  if (pause !== undefined) parts.push(`pause ${Math.round(pause / 100) / 10}s`);
  else if (step.pause) parts.push('pause until resumed');
  if (step.analysis) parts.push('analysis');
  return parts.join(', ') || 'step';
}

const RECENTLY_ENDED = 20;

export function instancesView(
  store: StateReader,
  forensics: string[],
  svidOf: (id: string) => SvidView | undefined = () => undefined,
): InstanceView[] {
  const all = store.listInstances();
  const failed = new Map<string, number>();
  for (const i of all)
    if (i.state === 'failed')
      failed.set(`${i.env}/${i.releaseId}`, (failed.get(`${i.env}/${i.releaseId}`) ?? 0) + 1);
  const live = all.filter((i) => i.state !== 'stopped' && i.state !== 'failed');
  const ended = all
    .filter((i) => (i.state === 'stopped' || i.state === 'failed') && i.reason)
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
    .slice(0, RECENTLY_ENDED);
  return [...live, ...ended].map((i) => ({
    id: i.id,
    env: i.env,
    service: i.service,
    release: i.releaseId,
    state: i.state,
    since: i.createdAt,
    updatedAt: i.updatedAt,
    ...(i.reason ? { reason: i.reason } : {}),
    restarts: failed.get(`${i.env}/${i.releaseId}`) ?? 0,
    forensics: forensics.filter((f) => f.startsWith(`${i.id}-`)),
    ...optionalSvid(svidOf(i.id)),
  }));
}

const optionalSvid = (svid: SvidView | undefined) => (svid ? { svid } : {});

export function statusView(store: StateReader, env?: string): ServiceStatus[] {
  const keys = new Map<string, { env: string; service: string }>();
  for (const t of store.listTargets(env)) keys.set(`${t.env}/${t.service}`, t);
  for (const s of store.listServing(env)) keys.set(`${s.env}/${s.service}`, s);
  return [...keys.values()]
    .sort((a, b) => a.env.localeCompare(b.env) || a.service.localeCompare(b.service))
    .map(({ env: e, service }) => {
      const target = store.getTarget(e, service);
      const latest = store.listDeployments({ env: e, service }).at(-1);
      return {
        env: e,
        service,
        ...(target ? { release: target.releaseId } : {}),
        ...(target?.previousReleaseId ? { previousRelease: target.previousReleaseId } : {}),
        weights: store.getServing(e, service)?.weights ?? [],
        instances: store.listInstances({ env: e, service, live: true }).map((i) => ({
          id: i.id,
          release: i.releaseId,
          state: i.state,
          ...(i.endpoint ? { endpoint: i.endpoint } : {}),
        })),
        ...(latest ? { rollout: rolloutView(latest) } : {}),
      };
    });
}

export type HistoryEntry = RolloutView;

export function releaseView(store: StateReader, id: string): ReleaseView | undefined {
  const r = store.getRelease(id);
  if (!r) return undefined;
  const attestations = store.listAttestations(id);
  const kind = (word: string) => attestations.filter((a) => a.kind.toLowerCase().includes(word));
  return {
    id,
    imageDigest: r.imageDigest,
    configDigest: r.configDigest,
    createdAt: r.createdAt,
    ...(r.specCommit ? { sourceCommit: r.specCommit } : {}),
    ...(r.sourceDigest ? { sourceDigest: r.sourceDigest } : {}),
    signatures: kind('sig').map((a) => a.digest),
    provenance: kind('provenance').length + kind('slsa').length > 0,
    gates: attestations.filter((a) => a.kind.startsWith('gate-')).map((a) => a.kind),
  };
}

export function historyView(store: StateReader, service: string, env: string): HistoryEntry[] {
  return store.listDeployments({ env, service }).map(rolloutView);
}

/** An environment's drift checks, with its quarantined instances (an alert until they are cleared). */
export interface DriftStatus extends DriftEnvStatus {
  quarantined: Array<{ id: string; service: string; release: string; reason?: string; since: string }>;
}

export function driftView(store: StateReader, loops: DriftEnvStatus[], env?: string): DriftStatus[] {
  return loops
    .filter((l) => env === undefined || l.env === env)
    .map((l) => ({
      ...l,
      quarantined: store
        .listInstances({ env: l.env, live: true })
        .filter((i) => i.state === 'quarantined')
        .map((i) => ({
          id: i.id,
          service: i.service,
          release: i.releaseId,
          ...(i.reason ? { reason: i.reason } : {}),
          since: i.updatedAt,
        })),
    }));
}
