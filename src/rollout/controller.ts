/**
 * The rollout controller: for every rollout not yet done, observe, ask the strategy for the next
 * step, persist the new state with its event and audit entry in one transaction, and only then
 * act (write what should serve, which the reconciler carries out). A crash between the two
 * repeats declarative actions, which is harmless.
 */
import type { AuditEvent } from '../audit/index.js';
import type { DeploymentRecord, ServingRecord, StateStore, StateWriter } from '../state/index.js';
import { nextStep } from './machine.js';
import type {
  Action,
  MetricsSummary,
  Observations,
  ReleaseObservation,
  RolloutState,
  UserCommand,
} from './types.js';

export interface ControllerDeps {
  store: StateStore;
  audit: { record(event: AuditEvent): unknown };
  /** Live/healthy/failed instance counts of releases of a service, failures counted since `sinceIso`. */
  observe(
    env: string,
    service: string,
    releases: string[],
    sinceIso: string,
  ): Record<string, ReleaseObservation>;
  metrics(env: string, service: string, release: string, windowMs: number): MetricsSummary | undefined;
  /** Called after `serving` changed for a service; converges instances and gateway pools. */
  servingChanged(env: string, service: string): void;
  now(): number;
}

export const CONTROLLER_ACTOR = 'cairn-up';

export class RolloutController {
  private readonly commands = new Map<string, { command: UserCommand; actor: string }>();

  constructor(private readonly deps: ControllerDeps) {}

  /** Queues a user command for a rollout; it takes effect at that rollout's next tick. */
  command(deploymentId: string, command: UserCommand, actor = 'api'): void {
    this.commands.set(deploymentId, { command, actor });
  }

  /** Rollouts that still have work: progressing, paused, rolling back, or keeping a release warm. */
  unfinished(): DeploymentRecord[] {
    return this.deps.store.listDeployments({ unfinished: true });
  }

  tickAll(): DeploymentRecord[] {
    return this.unfinished().map((d) => this.tick(d));
  }

  tick(deployment: DeploymentRecord): DeploymentRecord {
    const state = deployment.state as unknown as RolloutState;
    const now = this.deps.now();
    const given = this.commands.get(deployment.id);
    const command = given?.command;
    this.commands.delete(deployment.id);
    const obs = this.observations(deployment, state, now, command);
    const { state: next, actions } = nextStep(state, obs, now);
    if (next === state && actions.length === 0) return deployment;
    const updated = this.persist(deployment, state, next, actions, command, given?.actor);
    if (actions.length > 0) this.deps.servingChanged(deployment.env, deployment.service);
    return updated;
  }

  private observations(
    d: DeploymentRecord,
    state: RolloutState,
    now: number,
    command?: UserCommand,
  ): Observations {
    const releases = [state.to, ...(state.from ? [state.from] : [])];
    const obs: Observations = {
      releases: this.deps.observe(d.env, d.service, releases, new Date(state.startedAt).toISOString()),
      ...(command ? { command } : {}),
    };
    if (state.stage === 'warm') obs.inUse = this.releasesInUse(d);
    const step = state.settings.steps[state.step];
    const canaryAnalysis =
      state.settings.strategy === 'canary' && state.stage === 'stepping' && step?.analysis;
    // A preview is judged on its own window: the traffic since the new release became reachable.
    const previewSince = state.stage === 'previewing' ? state.stageSince : undefined;
    if (canaryAnalysis || previewSince !== undefined) {
      const since = previewSince ?? state.startedAt;
      const windowMs = Math.max(1, Math.min(state.settings.analysis.windowMs, now - since));
      const canary = this.deps.metrics(d.env, d.service, state.to, windowMs);
      const stable = state.from ? this.deps.metrics(d.env, d.service, state.from, windowMs) : undefined;
      if (canary) obs.metrics = { canary, ...(stable ? { stable } : {}), windowMs };
    }
    return obs;
  }

  /** Releases with traffic, and those the rollouts started after `d` still work with. */
  private releasesInUse(d: DeploymentRecord): string[] {
    const serving = this.deps.store.getServing(d.env, d.service);
    const used = new Set((serving?.weights ?? []).filter((w) => w.weight > 0).map((w) => w.release));
    for (const later of this.deps.store.listDeployments({ env: d.env, service: d.service })) {
      if (later.createdAt <= d.createdAt || later.id === d.id) continue;
      const s = later.state as unknown as RolloutState;
      if (s.stage === 'done') continue;
      used.add(s.to);
      if (s.from) used.add(s.from);
    }
    return [...used];
  }

  private persist(
    d: DeploymentRecord,
    before: RolloutState,
    next: RolloutState,
    actions: Action[],
    command?: UserCommand,
    commandActor?: string,
  ): DeploymentRecord {
    const nowIso = new Date(this.deps.now()).toISOString();
    const updated: DeploymentRecord = {
      ...d,
      phase: next.phase,
      step: next.step,
      state: next as unknown as Record<string, unknown>,
      updatedAt: nowIso,
      ...(next.reason ? { reason: next.reason } : {}),
      ...(next.finishedAt !== undefined ? { finishedAt: new Date(next.finishedAt).toISOString() } : {}),
    };
    this.deps.store.transaction((tx) => {
      tx.putDeployment(updated);
      if (actions.length > 0)
        tx.setServing(applyActions(tx.getServing(d.env, d.service), d, actions, nowIso));
      if (next.phase === 'succeeded' && before.phase !== 'succeeded') {
        tx.setTarget({
          env: d.env,
          service: d.service,
          releaseId: next.to,
          ...(next.from ? { previousReleaseId: next.from } : {}),
          updatedAt: nowIso,
        });
      }
      for (const event of transitions(before, next, command)) {
        tx.appendEvent({
          kind: event.action,
          env: d.env,
          service: d.service,
          subject: d.id,
          detail: event.detail,
        });
        this.deps.audit.record({
          actor: command ? (commandActor ?? 'api') : CONTROLLER_ACTOR,
          action: event.action,
          subject: { service: d.service, env: d.env, release: next.to },
          ...digests(tx, next),
          ...(event.reason ? { reason: event.reason } : {}),
          detail: { deployment: d.id, ...event.detail },
        });
      }
    });
    return updated;
  }
}

/** Image digests before and after, for the audit entry (release ids are in the subject). */
function digests(tx: StateWriter, s: RolloutState): { digestBefore?: string; digestAfter?: string } {
  const before = s.from ? tx.getRelease(s.from)?.imageDigest : undefined;
  const after = tx.getRelease(s.to)?.imageDigest;
  return { ...(before ? { digestBefore: before } : {}), ...(after ? { digestAfter: after } : {}) };
}

/** The new serving record after a rollout's actions. */
export function applyActions(
  current: ServingRecord | undefined,
  d: DeploymentRecord,
  actions: Action[],
  nowIso: string,
): ServingRecord {
  const serving: ServingRecord = current
    ? { ...current, replicas: { ...current.replicas }, updatedAt: nowIso }
    : { env: d.env, service: d.service, replicas: {}, weights: [], updatedAt: nowIso };
  for (const a of actions) {
    if (a.type === 'scale') serving.replicas[a.release] = a.replicas;
    else serving.weights = a.weights;
  }
  for (const [release, n] of Object.entries(serving.replicas)) if (n === 0) delete serving.replicas[release];
  return serving;
}

interface Transition {
  action: string;
  reason?: string;
  detail: Record<string, unknown>;
}

/** The audit-worthy changes between two states: phase, stage, step, weight, verdicts. */
export function transitions(before: RolloutState, next: RolloutState, command?: UserCommand): Transition[] {
  const out: Transition[] = [];
  if (command) out.push({ action: `deploy.command.${command}`, detail: { command } });
  if (next.weight !== before.weight)
    out.push({ action: 'deploy.weight', detail: { weight: next.weight, step: next.step } });
  const finalVerdicts = next.verdicts.filter(
    (v, i) => v.verdict !== 'inconclusive' && before.verdicts[i] !== v,
  );
  for (const v of finalVerdicts) out.push({ action: 'deploy.verdict', reason: v.rule, detail: { ...v } });
  if (next.phase !== before.phase)
    out.push({
      action: `deploy.${next.phase}`,
      ...(next.reason ? { reason: next.reason } : {}),
      detail: { step: next.step },
    });
  if (next.stage !== before.stage) {
    out.push({
      action:
        next.stage === 'done' && next.phase !== 'succeeded'
          ? 'deploy.rolled-back'
          : `deploy.stage.${next.stage}`,
      detail: {
        stage: next.stage,
        ...(next.rollbackSwitchMs !== undefined ? { rollbackSwitchMs: next.rollbackSwitchMs } : {}),
      },
    });
  }
  return out;
}
