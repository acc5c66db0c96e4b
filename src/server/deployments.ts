/**
 * Creating rollouts: a deploy (new or existing release), a rollback, a promotion. Every one passes
 * the target environment's gates first (predecessor, approval, signature, scan, policies); a
 * denial is recorded in the audit log and changes nothing else; an allow is a signed decision
 * attestation. A rollback to a release the gates now deny needs `force`, and is recorded so.
 */

import { statSync } from 'node:fs';
import type { ImageStore } from '../artifact/index.js';
import { resolveImage, sourceDigest } from '../artifact/index.js';
import type { AuditLog } from '../audit/index.js';
import {
  denialError,
  failureLine,
  GATE_OVERRIDE_KIND,
  type GateFailure,
  Gatekeeper,
  type GateOutcome,
  type GateRequest,
  policyGate,
  recordDecision,
  recordDenial,
  scanGate,
} from '../gates/index.js';
import { GATEWAY_SERVICE } from '../kubernetes/index.js';
import {
  CairnError,
  ConflictError,
  GateDeniedError,
  jsonDigest,
  NotFoundError,
  newDeploymentId,
  releaseId,
  shortDigest,
  ValidationError,
} from '../lib/index.js';
import { type RolloutController, type RolloutSettings, startRollout } from '../rollout/index.js';
import type { SecretPin } from '../secrets/index.js';
import {
  type ConfigFile,
  configFileDigests,
  type LoadedSpec,
  loadSpec,
  promotionIdentity,
  readConfigFiles,
  releaseConfig,
  runForEnvironment,
  type SecretRef,
  type ServiceSpec,
} from '../spec/index.js';
import type { DeploymentRecord, ReleaseRecord, SqliteStateStore } from '../state/index.js';
import type { SigningKey } from '../trust/index.js';

export interface DeploymentsDeps {
  specFile: string;
  store: SqliteStateStore;
  audit: AuditLog;
  images: ImageStore;
  controller: RolloutController;
  specCommit?: () => string | undefined;
  /** The secret versions a new release pins (names and keyed hashes only); none when absent. */
  pinSecrets?: (service: string, refs: SecretRef[]) => Promise<SecretPin[]>;
  /** Keeps the content of the configuration files a new release names (see ConfigFilePins). */
  pinFiles?: (files: readonly ConfigFile[]) => Promise<void>;
  /** `.cairn/vuln.db`: the OSV database the scan gate reads. */
  vulnDbFile: string;
  /** Before a deploy to `env` writes anything: its cluster answers and has the image (Kubernetes). */
  preflight?: (env: string, release: ReleaseRecord, isKubernetes: boolean) => Promise<void>;
  /** The running control plane routes the environment through its gateway in the cluster. */
  hasClusterGateway?: (env: string) => boolean;
  /** The workspace key decisions and scans are signed with, when there is one. */
  signingKey: () => SigningKey | undefined;
}

/** A rollout just started, with what its gates warned about (accepted findings, a forced override). */
export type Started = DeploymentRecord & { warnings?: string[] };

/** A rollout that passed its gates (or was forced past them), with what to record once it exists. */
interface Admitted {
  request: GateRequest;
  outcome: GateOutcome;
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
  /** The door: a deploy, or a promotion of a release that completed in the predecessor. */
  stage?: 'deploy' | 'promote';
  /** A rollback past failed gates: allowed, loudly, and recorded as overridden. */
  force?: boolean;
}

/** The actor admission checks are recorded under: the runtime itself, whoever asked for the start. */
export const ADMISSION_ACTOR = 'cairn-admission';

export class Deployments {
  readonly gatekeeper: Gatekeeper;
  /** Admission verdicts by release, environment, spec digest and database: evaluated once each. */
  private readonly admitted = new Map<string, GateOutcome>();
  /** Releases a forced rollback took past the gates, per environment. */
  private readonly forced = new Set<string>();
  private lastSpec: LoadedSpec | undefined;

  constructor(private readonly deps: DeploymentsDeps) {
    this.gatekeeper = new Gatekeeper({
      images: deps.images,
      scan: scanGate({ images: deps.images, dbFile: deps.vulnDbFile, signingKey: deps.signingKey }),
      policies: policyGate,
    });
  }

  async deploy(req: DeployRequest): Promise<Started> {
    const loaded = loadSpec(this.deps.specFile);
    const service = serviceOf(loaded, req.service);
    envOf(loaded, req.env);
    const cluster = loaded.spec.environments[req.env]!.kubernetes;
    const inCluster = cluster !== undefined;
    if (inCluster)
      refuseClusterCanary(req, settingsFor(service, req.strategy).strategy, {
        inSpec: cluster.gatewayNamespace !== undefined,
        running: this.deps.hasClusterGateway?.(req.env) ?? false,
      });
    const release = req.release
      ? this.existingRelease(req.release, req.service)
      : await this.newRelease(loaded, req.service, req.image!, req.env);
    const admitted = await this.checkGates(loaded, req, release);
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
    await this.deps.preflight?.(req.env, release, inCluster);
    const deployment = this.start(req, service, release, target?.releaseId);
    const { outcome } = admitted;
    if (!outcome.allowed) this.forced.add(`${release.id} ${req.env}`);
    await recordDecision(this.recordDeps(), admitted.request, outcome);
    const warnings = [
      ...(outcome.allowed
        ? []
        : [
            `FORCED past ${outcome.failures.length} failed gate rule(s), recorded as gate.overridden:`,
            ...outcome.failures.map((f) => `  ${failureLine(f)}`),
          ]),
      ...outcome.warnings,
    ];
    return warnings.length > 0 ? { ...deployment, warnings } : deployment;
  }

  /**
   * Admission: every instance start asks the environment's gates (stage `admission`), so a release
   * that fails them never runs — also when its state row was written by hand. A release a forced
   * rollback took past the gates is admitted. A refusal is audited once per verdict and throws.
   * Returns the names of the policies that held (a Kubernetes environment lists them per digest).
   */
  async admit(release: ReleaseRecord, env: string): Promise<string[]> {
    let loaded: LoadedSpec;
    try {
      loaded = loadSpec(this.deps.specFile);
      this.lastSpec = loaded;
    } catch (error) {
      // An edit in progress must not stop restarts of what already passed: the last good spec decides.
      if (!this.lastSpec) throw error;
      loaded = this.lastSpec;
    }
    if (!loaded.spec.environments[env]) return [];
    // Acceptances expire with time: a verdict is asked again at least every ten minutes.
    const period = Math.floor(Date.now() / 600_000);
    const key = `${release.id} ${env} ${loaded.digest} ${dbStamp(this.deps.vulnDbFile)} ${period}`;
    let outcome = this.admitted.get(key);
    const request = gateRequest(release, env, 'admission', ADMISSION_ACTOR);
    if (!outcome) {
      outcome = await this.gatekeeper.evaluate(loaded, request);
      if (this.admitted.size > 1_000) this.admitted.clear();
      this.admitted.set(key, outcome);
      if (!outcome.allowed && !this.wasForced(release.id, env)) {
        recordDenial(this.recordDeps(), request, outcome, 'admission.denied');
      }
    }
    if (outcome.allowed || this.wasForced(release.id, env)) return heldPolicies(outcome);
    throw denialError(request, outcome);
  }

  /**
   * The in-cluster gateway's image at an environment's door: the same gates as a release (a
   * signature by a key the environment trusts, the scan, the policies that match service
   * `cairn-gateway` at `admission`), asked again at least every ten minutes. A refusal is audited
   * (`admission.denied`) and throws, naming every failed rule. Returns the policies that held.
   */
  async admitGatewayImage(env: string, imageDigest: string): Promise<string[]> {
    const loaded = loadSpec(this.deps.specFile);
    const period = Math.floor(Date.now() / 600_000);
    const key = `${GATEWAY_SERVICE} ${imageDigest} ${env} ${loaded.digest} ${dbStamp(this.deps.vulnDbFile)} ${period}`;
    const request: GateRequest = {
      service: GATEWAY_SERVICE,
      env,
      stage: 'admission',
      releaseId: GATEWAY_SERVICE,
      imageDigest,
      run: {},
      actor: ADMISSION_ACTOR,
    };
    let outcome = this.admitted.get(key);
    if (!outcome) {
      outcome = await this.gatekeeper.evaluate(loaded, request);
      if (this.admitted.size > 1_000) this.admitted.clear();
      this.admitted.set(key, outcome);
      if (!outcome.allowed) recordDenial(this.recordDeps(), request, outcome, 'admission.denied');
    }
    if (outcome.allowed) return heldPolicies(outcome);
    throw denialError(request, outcome);
  }

  /** The same image and settings, whatever each environment's own variables: what promotion moves. */
  private samePromotion(id: string, release: ReleaseRecord): boolean {
    if (id === release.id) return true;
    const other = this.deps.store.getRelease(id);
    if (!other || other.imageDigest !== release.imageDigest) return false;
    const identity = (r: ReleaseRecord) =>
      jsonDigest(promotionIdentity(r.config.run as Record<string, unknown>));
    return identity(other) === identity(release);
  }

  private wasForced(releaseId: string, env: string): boolean {
    if (this.forced.has(`${releaseId} ${env}`)) return true;
    return this.deps.store
      .listAttestations(releaseId)
      .some((a) => a.kind.startsWith(`${GATE_OVERRIDE_KIND} `) && a.kind.endsWith(` ${env}`));
  }

  private recordDeps() {
    return {
      images: this.deps.images,
      store: this.deps.store,
      audit: this.deps.audit,
      signingKey: this.deps.signingKey,
    };
  }

  /** Back to the previous known-good release (or `to`): a weight flip when it is still warm. */
  async rollback(
    service: string,
    env: string,
    to: string | undefined,
    actor: string,
    force = false,
  ): Promise<Started> {
    const active = this.deps.store.listDeployments({ env, service, active: true })[0];
    if (active && !to) {
      this.deps.controller.command(active.id, 'abort', actor);
      return this.deps.controller.tick(active);
    }
    const target = this.deps.store.getTarget(env, service);
    const goal = to ?? target?.previousReleaseId;
    if (!goal) {
      throw new NotFoundError(`rolling back ${service} in ${env}: there is no previous release`, {
        hint: 'a rollback needs a release that served before; see `cairn history`',
      });
    }
    return this.deploy({ service, env, release: goal, actor, strategy: 'rollback', approve: true, force });
  }

  /** The same release that completed in `from`, through the gates of `to`. */
  async promote(
    service: string,
    from: string,
    to: string,
    approve: boolean,
    actor: string,
  ): Promise<Started> {
    const target = this.deps.store.getTarget(from, service);
    if (!target) {
      throw new GateDeniedError(`promoting ${service} from ${from}: nothing has completed there yet`, {
        hint: `deploy it to ${from} first: \`cairn deploy ${service} --env ${from}\``,
      });
    }
    const release = await this.carried(this.existingRelease(target.releaseId, service), to);
    return this.deploy({ service, env: to, release: release.id, approve, actor, stage: 'promote' });
  }

  /**
   * The release a promotion runs in `env`: the same one when the environment sets nothing of its
   * own, else a release of the same image and settings with that environment's variables and
   * configuration files (pinned now; the release is stored now, so the gates and the rollout find
   * it by id).
   */
  private async carried(release: ReleaseRecord, env: string): Promise<ReleaseRecord> {
    const loaded = loadSpec(this.deps.specFile);
    const files = await this.pinnedFiles(loaded, release.service, env);
    const run = runForEnvironment(
      release.config.run as Record<string, unknown>,
      loaded.spec,
      release.service,
      env,
      files,
    );
    const configDigest = jsonDigest(run);
    if (configDigest === release.configDigest) return release;
    const id = releaseId(release.service, release.imageDigest, configDigest);
    const existing = this.deps.store.getRelease(id);
    if (existing) return existing;
    const carried: ReleaseRecord = {
      ...release,
      id,
      configDigest,
      config: { ...release.config, run },
      createdAt: new Date().toISOString(),
    };
    this.deps.store.transaction((tx) => tx.putRelease(carried));
    return carried;
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

  private async newRelease(
    loaded: LoadedSpec,
    service: string,
    image: string,
    env: string,
  ): Promise<ReleaseRecord> {
    const descriptor = await resolveImage(this.deps.images, image, loaded.spec);
    const config = releaseConfig(loaded.spec, service, env, await this.pinnedFiles(loaded, service, env));
    const refs = (config.run.secrets ?? []) as SecretRef[];
    if (refs.length > 0 && this.deps.pinSecrets)
      config.run.secrets = await this.deps.pinSecrets(service, refs);
    const configDigest = jsonDigest(config.run);
    return {
      id: releaseId(service, descriptor.digest, configDigest),
      service,
      imageDigest: descriptor.digest,
      configDigest,
      config: { ...config },
      ...(await localSourceDigest(loaded, service)),
      ...(this.deps.specCommit?.() ? { specCommit: this.deps.specCommit() } : {}),
      createdAt: new Date().toISOString(),
    };
  }

  /** The environment's configuration files of the service, read and pinned now: target → digest. */
  private async pinnedFiles(
    loaded: LoadedSpec,
    service: string,
    env: string,
  ): Promise<Record<string, string>> {
    const files = readConfigFiles(loaded, service, env);
    if (files.length > 0) await this.deps.pinFiles?.(files);
    return configFileDigests(files);
  }

  /** Every gate of the target environment; throws (exit 3) listing each failed rule, after auditing it. */
  private async checkGates(
    loaded: LoadedSpec,
    req: DeployRequest,
    release: ReleaseRecord,
  ): Promise<Admitted> {
    const env = loaded.spec.environments[req.env]!;
    const before: GateFailure[] = [];
    const asked: GateOutcome['passed'] = [];
    if (env.after && req.strategy !== 'rollback') {
      const done = this.deps.store
        .listDeployments({ env: env.after, service: req.service })
        .some((d) => d.phase === 'succeeded' && this.samePromotion(d.toRelease, release));
      if (done) asked.push('predecessor');
      else
        before.push({
          gate: 'predecessor',
          rule: env.after,
          message: `it has not completed in ${env.after} first`,
          field: `environments.${req.env}.after`,
        });
    }
    if (env.approval) {
      if (req.approve) asked.push('approval');
      else
        before.push({
          gate: 'approval',
          rule: 'approval',
          message: 'the environment requires approval',
          field: `environments.${req.env}.approval`,
        });
    }
    const request = gateRequest(release, req.env, req.stage ?? 'deploy', req.actor);
    const evaluated = await this.gatekeeper.evaluate(loaded, request, before);
    const outcome = { ...evaluated, passed: [...asked, ...evaluated.passed] };
    if (outcome.allowed || (req.force && req.strategy === 'rollback')) return { request, outcome };
    recordDenial(this.recordDeps(), request, outcome);
    const error = denialError(request, outcome);
    if (req.strategy === 'rollback') {
      throw new GateDeniedError(error.message.replace(/^deploying/, 'rolling back to'), {
        hint: `the gates deny ${release.id} now (a newer policy or vulnerability database); roll back anyway with --force, which is recorded`,
      });
    }
    throw error;
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
        detail: {
          deployment: deployment.id,
          strategy: settings.strategy,
          configDigest: release.configDigest,
          ...environmentVars(release),
          ...configFiles(release),
        },
      });
    });
    return this.deps.controller.tick(deployment);
  }
}

/** What the gates are asked about a release at one door. */
function gateRequest(
  release: ReleaseRecord,
  env: string,
  stage: GateRequest['stage'],
  actor: string,
): GateRequest {
  return {
    service: release.service,
    env,
    stage,
    releaseId: release.id,
    imageDigest: release.imageDigest,
    run: (release.config.run ?? {}) as Record<string, unknown>,
    actor,
  };
}

/** Changes when the vulnerability database is imported again (its file's size and time). */
function dbStamp(file: string): string {
  try {
    const st = statSync(file);
    return `${st.size}-${st.mtimeMs}`;
  } catch {
    return 'none';
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
    ...(d.preview && (strategy ?? d.strategy) === 'bluegreen' ? { preview: d.preview } : {}),
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

/**
 * A canary's weights and analysis need cairn's gateway in the cluster: without one the
 * environment is served by the gateway of `cairn up`, which is not the cluster's front door. What
 * decides is the running control plane (it opened the cluster gateway when it started), not the
 * spec file: a gatewayNamespace added since takes effect at the next `cairn up`.
 */
export function refuseClusterCanary(
  req: Pick<DeployRequest, 'service' | 'env'>,
  strategy: string,
  gateway: { inSpec: boolean; running: boolean },
): void {
  if (strategy !== 'canary' || gateway.running) return;
  const message = `deploying ${req.service} to ${req.env}: a canary in a Kubernetes environment needs cairn's gateway in the cluster`;
  if (gateway.inSpec)
    throw new ValidationError(`${message}, and the running control plane has none for ${req.env}`, [], {
      hint: `environments.${req.env}.kubernetes.gatewayNamespace was added after \`cairn up\` started: restart \`cairn up\` so it opens the gateway in the cluster, then deploy again`,
    });
  throw new ValidationError(message, [], {
    hint: `set environments.${req.env}.kubernetes.gatewayNamespace (and restart \`cairn up\`), or deploy.strategy bluegreen or rolling for this service (docs/kubernetes.md)`,
  });
}

function envOf(loaded: LoadedSpec, name: string): void {
  if (!loaded.spec.environments[name]) {
    throw new NotFoundError(`deploying to ${name}: cairn.yaml has no such environment`, {
      hint: `environments are ${Object.keys(loaded.spec.environments).join(', ')}`,
    });
  }
}

/**
 * The digest of this checkout's build inputs of the service, when it has them. A host that only
 * receives images (a production host pulling from a registry) lacks them: its releases carry none,
 * and the image's own provenance says where it came from.
 */
async function localSourceDigest(loaded: LoadedSpec, service: string): Promise<{ sourceDigest?: string }> {
  try {
    return { sourceDigest: await sourceDigest(loaded, service) };
  } catch (error) {
    if (error instanceof CairnError) return {};
    throw error;
  }
}

/** The environment's own variables a release runs with (never secrets: validate refuses them there). */
function environmentVars(release: ReleaseRecord): { env?: Record<string, string> } {
  const vars = (release.config.run as { env?: Record<string, string> } | undefined)?.env;
  return vars ? { env: vars } : {};
}

/** The configuration files a release runs with: path in the instance → content digest (never content). */
function configFiles(release: ReleaseRecord): { files?: Record<string, string> } {
  const files = (release.config.run as { files?: Record<string, string> } | undefined)?.files;
  return files ? { files } : {};
}

/** The policies of an outcome that held: all that were asked, but those with a failed validation. */
function heldPolicies(outcome: GateOutcome): string[] {
  const failed = new Set(
    outcome.failures.filter((f) => f.gate === 'policy').map((f) => f.rule.replace(/\[\d+\]$/, '')),
  );
  return outcome.policies.map((p) => p.name).filter((n) => !failed.has(n));
}
