/**
 * Creating rollouts: a deploy (new or existing release), a rollback, a promotion. Every one passes
 * the target environment's gates first (predecessor, approval, trusted signature); a denial is
 * recorded in the audit log and changes nothing else.
 */

import type { ImageStore } from '../artifact/index.js';
import { resolveImage, sourceDigest } from '../artifact/index.js';
import type { AuditLog } from '../audit/index.js';
import {
  ConflictError,
  GateDeniedError,
  jsonDigest,
  NotFoundError,
  newDeploymentId,
  releaseId,
  shortDigest,
} from '../lib/index.js';
import { type RolloutController, type RolloutSettings, startRollout } from '../rollout/index.js';
import { type LoadedSpec, loadSpec, releaseConfig, type ServiceSpec } from '../spec/index.js';
import type { DeploymentRecord, ReleaseRecord, SqliteStateStore } from '../state/index.js';
import { assertTrusted, verifyForEnvironment } from '../trust/index.js';

export interface DeploymentsDeps {
  specFile: string;
  store: SqliteStateStore;
  audit: AuditLog;
  images: ImageStore;
  controller: RolloutController;
  specCommit?: () => string | undefined;
}

export interface DeployRequest {
  service: string;
  env: string;
  /** A new release from this image and the spec's current settings … */
  image?: string;
  /** … or an existing release, unchanged (promotion, redeploy). */
  release?: string;
  approve?: boolean;
  actor: string;
  /** Strategy override (`rollback` for a rollback). */
  strategy?: RolloutSettings['strategy'];
}

export class Deployments {
  constructor(private readonly deps: DeploymentsDeps) {}

  async deploy(req: DeployRequest): Promise<DeploymentRecord> {
    const loaded = loadSpec(this.deps.specFile);
    const service = serviceOf(loaded, req.service);
    envOf(loaded, req.env);
    const release = req.release
      ? this.existingRelease(req.release, req.service)
      : await this.newRelease(loaded, req.service, req.image!);
    await this.checkGates(loaded, req, release);
    const active = this.deps.store.listDeployments({ env: req.env, service: req.service, active: true });
    if (active.length > 0) {
      throw new ConflictError(
        `deploying ${req.service} to ${req.env}: rollout ${active[0]!.id} is still in progress`,
        {
          hint: `wait for it, or stop it with \`cairn abort ${req.service} --env ${req.env}\``,
        },
      );
    }
    const target = this.deps.store.getTarget(req.env, req.service);
    if (target?.releaseId === release.id && !req.strategy) {
      throw new ConflictError(`deploying ${req.service} to ${req.env}: ${release.id} already serves there`, {
        hint: 'change the service (code or cairn.yaml) and build again, or roll back with `cairn rollback`',
      });
    }
    return this.start(req, service, release, target?.releaseId);
  }

  /** Back to the previous known-good release (or `to`): a weight flip when it is still warm. */
  async rollback(
    service: string,
    env: string,
    to: string | undefined,
    actor: string,
  ): Promise<DeploymentRecord> {
    const active = this.deps.store.listDeployments({ env, service, active: true })[0];
    if (active && !to) {
      this.deps.controller.command(active.id, 'abort');
      return this.deps.controller.tick(active);
    }
    const target = this.deps.store.getTarget(env, service);
    const goal = to ?? target?.previousReleaseId;
    if (!goal) {
      throw new NotFoundError(`rolling back ${service} in ${env}: there is no previous release`, {
        hint: 'a rollback needs a release that served before; see `cairn history`',
      });
    }
    return this.deploy({ service, env, release: goal, actor, strategy: 'rollback', approve: true });
  }

  /** The same release that completed in `from`, through the gates of `to`. */
  async promote(
    service: string,
    from: string,
    to: string,
    approve: boolean,
    actor: string,
  ): Promise<DeploymentRecord> {
    const target = this.deps.store.getTarget(from, service);
    if (!target) {
      throw new GateDeniedError(`promoting ${service} from ${from}: nothing has completed there yet`, {
        hint: `deploy it to ${from} first: \`cairn deploy ${service} --env ${from}\``,
      });
    }
    return this.deploy({ service, env: to, release: target.releaseId, approve, actor });
  }

  private existingRelease(id: string, service: string): ReleaseRecord {
    const release = this.deps.store.getRelease(id);
    if (!release || release.service !== service) {
      throw new NotFoundError(`finding release ${id} of ${service}: no such release`, {
        hint: 'see `cairn history SERVICE --env ENV`',
      });
    }
    return release;
  }

  private async newRelease(loaded: LoadedSpec, service: string, image: string): Promise<ReleaseRecord> {
    const descriptor = await resolveImage(this.deps.images, image, loaded.spec);
    const config = releaseConfig(loaded.spec, service);
    const configDigest = jsonDigest(config.run);
    return {
      id: releaseId(descriptor.digest, configDigest),
      service,
      imageDigest: descriptor.digest,
      configDigest,
      config: { ...config },
      sourceDigest: await sourceDigest(loaded, service),
      ...(this.deps.specCommit?.() ? { specCommit: this.deps.specCommit() } : {}),
      createdAt: new Date().toISOString(),
    };
  }

  private async checkGates(loaded: LoadedSpec, req: DeployRequest, release: ReleaseRecord): Promise<void> {
    const env = loaded.spec.environments[req.env]!;
    try {
      if (env.after && req.strategy !== 'rollback') {
        const done = this.deps.store
          .listDeployments({ env: env.after, service: req.service })
          .some((d) => d.toRelease === release.id && d.phase === 'succeeded');
        if (!done) {
          throw new GateDeniedError(
            `deploying ${release.id} to ${req.env}: it has not completed in ${env.after} first`,
            {
              hint: `deploy it to ${env.after}, then \`cairn promote ${req.service} --from ${env.after} --to ${req.env}\``,
            },
          );
        }
      }
      if (env.approval && !req.approve) {
        throw new GateDeniedError(
          `deploying ${release.id} to ${req.env}: the environment requires approval`,
          { hint: 'add --approve' },
        );
      }
      assertTrusted(await verifyForEnvironment(this.deps.images, release.imageDigest, loaded, req.env));
    } catch (error) {
      if (error instanceof GateDeniedError) {
        this.deps.store.transaction(() =>
          this.deps.audit.record({
            actor: req.actor,
            action: 'gate.denied',
            subject: { service: req.service, env: req.env, release: release.id, image: release.imageDigest },
            reason: error.message,
          }),
        );
      }
      throw error;
    }
  }

  private start(
    req: DeployRequest,
    service: ServiceSpec,
    release: ReleaseRecord,
    from: string | undefined,
  ): DeploymentRecord {
    const now = Date.now();
    const settings = settingsFor(service, req.strategy);
    const state = startRollout(settings, from, release.id, now);
    const iso = new Date(now).toISOString();
    const deployment: DeploymentRecord = {
      id: newDeploymentId(),
      service: req.service,
      env: req.env,
      ...(state.from ? { fromRelease: state.from } : {}),
      toRelease: release.id,
      strategy: settings.strategy,
      phase: 'progressing',
      step: 0,
      state: state as unknown as Record<string, unknown>,
      createdAt: iso,
      updatedAt: iso,
    };
    this.deps.store.transaction((tx) => {
      tx.putRelease(release);
      tx.putDeployment(deployment);
      tx.appendEvent({
        kind: 'deploy.started',
        env: req.env,
        service: req.service,
        subject: deployment.id,
        detail: { release: release.id, strategy: settings.strategy },
      });
      this.deps.audit.record({
        actor: req.actor,
        action: req.strategy === 'rollback' ? 'rollback.started' : 'deploy.started',
        subject: { service: req.service, env: req.env, release: release.id, image: release.imageDigest },
        ...(from && this.deps.store.getRelease(from)
          ? { digestBefore: this.deps.store.getRelease(from)!.imageDigest }
          : {}),
        digestAfter: release.imageDigest,
        reason: `${settings.strategy} of ${shortDigest(release.imageDigest)}`,
        ...(release.specCommit ? { specCommit: release.specCommit } : {}),
        detail: { deployment: deployment.id, strategy: settings.strategy },
      });
    });
    return this.deps.controller.tick(deployment);
  }
}

export function settingsFor(service: ServiceSpec, strategy?: RolloutSettings['strategy']): RolloutSettings {
  const d = service.deploy;
  return {
    strategy: strategy ?? d.strategy,
    replicas: service.run.replicas,
    steps: d.steps,
    analysis: d.analysis,
    maxSurge: d.maxSurge,
    maxUnavailable: d.maxUnavailable,
    scaleDownDelayMs: d.scaleDownDelayMs,
    progressDeadlineMs: d.progressDeadlineMs,
  };
}

function serviceOf(loaded: LoadedSpec, name: string): ServiceSpec {
  const service = loaded.spec.services[name];
  if (!service) {
    throw new NotFoundError(`deploying ${name}: cairn.yaml has no such service`, {
      hint: `services are ${Object.keys(loaded.spec.services).join(', ')}`,
    });
  }
  return service;
}

function envOf(loaded: LoadedSpec, name: string): void {
  if (!loaded.spec.environments[name]) {
    throw new NotFoundError(`deploying to ${name}: cairn.yaml has no such environment`, {
      hint: `environments are ${Object.keys(loaded.spec.environments).join(', ')}`,
    });
  }
}
