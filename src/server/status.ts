/** Read models for `cairn status` and `cairn history`, from the state store. Pure over a reader. */

import type { DriftEnvStatus } from '../drift/index.js';
import type { AnalysisResult, RolloutState } from '../rollout/index.js';
import type { DeploymentRecord, StateReader } from '../state/index.js';

export interface ServiceStatus {
  env: string;
  service: string;
  release?: string;
  previousRelease?: string;
  weights: Array<{ release: string; weight: number }>;
  instances: Array<{ id: string; release: string; state: string; endpoint?: string }>;
  rollout?: RolloutView;
}

export interface RolloutView {
  id: string;
  strategy: string;
  from?: string;
  to: string;
  phase: string;
  stage: string;
  step: number;
  steps: number;
  weight: number;
  reason?: string;
  lastVerdict?: AnalysisResult;
  rollbackSwitchMs?: number;
  createdAt: string;
  finishedAt?: string;
  /** From creation to the end of the switch (success) or of the rollback. */
  durationMs?: number;
}

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

/** A release as the history page shows it: what it runs, where it came from, what vouched for it. */
export interface ReleaseView {
  id: string;
  imageDigest: string;
  configDigest: string;
  createdAt: string;
  sourceCommit?: string;
  sourceDigest?: string;
  signatures: string[];
  provenance: boolean;
  /** Gate decisions recorded for it, e.g. `gate-decision deploy dev`. */
  gates: string[];
}

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
