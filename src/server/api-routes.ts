/** The HTTP API of the control plane: what each endpoint does, in one table. */
import { verifierKey } from '../audit/index.js';
import { NotFoundError, ValidationError } from '../lib/index.js';
import type { UserCommand } from '../rollout/index.js';
import { checkExpectation, isAction, planAction } from './action-plan.js';
import type { ApiRequest, ApiServer } from './api-server.js';
import type { ControlPlane } from './control-plane.js';
import { driftView, historyView, instancesView, releaseView, rolloutView, statusView } from './status.js';

const COMMANDS: UserCommand[] = ['abort', 'pause', 'resume', 'promote-step'];

const AUDIT_PAGE = 200;

function str(body: Record<string, unknown>, key: string, required = true): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new ValidationError(`reading the request: "${key}" must be a non-empty string`, []);
  return v;
}

/** An action from a page carries what the page saw; refuse it when that changed. */
function expectUnchanged(cp: ControlPlane, r: ApiRequest, env: string): void {
  checkExpectation(cp.store, str(r.body, 'service')!, env, r.body.expect);
}

export function registerRoutes(api: ApiServer, cp: ControlPlane): void {
  api
    .on('GET', '/v1/health', () => ({ ok: true, pid: process.pid }))
    .on('GET', '/v1/status', (r) => {
      const env = r.query.get('env') ?? undefined;
      return {
        services: statusView(cp.store, env),
        drift: driftView(cp.store, cp.driftStatus(), env),
        disk: cp.disk.view(),
      };
    })
    .on('GET', '/v1/history', async (r) => {
      const deployments = historyView(cp.store, r.query.get('service') ?? '', r.query.get('env') ?? '');
      const ids = new Set(deployments.flatMap((d) => [d.to, ...(d.from ? [d.from] : [])]));
      const releases = await Promise.all(
        [...ids].map(async (id) => {
          const view = releaseView(cp.store, id);
          return [id, view ? { ...view, signers: await cp.signersOf(view.imageDigest) } : view] as const;
        }),
      );
      return { deployments, releases: Object.fromEntries(releases) };
    })
    .stream('/v1/events', (r, res) => cp.events.subscribe(res, r.stillAuthorized))
    .on('GET', '/v1/instances', () => ({
      instances: instancesView(cp.store, cp.forensicsFolders(), (id) => cp.svidOf(id)),
    }))
    .on('GET', '/v1/forensics/:name', (r) => ({ name: r.params.name, ...cp.forensicsReport(r.params.name!) }))
    .on('GET', '/v1/whoami', (r) => ({ name: r.principal.name, role: r.principal.role }))
    .on(
      'POST',
      '/v1/plan',
      (r) => {
        const action = r.body.action;
        if (!isAction(action))
          throw new ValidationError(`reading the request: unknown action "${String(action)}"`, []);
        return {
          plan: planAction(
            cp.store,
            action,
            str(r.body, 'service')!,
            str(r.body, 'env')!,
            str(r.body, 'from', false),
          ),
        };
      },
      { role: 'viewer' },
    )
    .on('GET', '/v1/audit', (r) => {
      const q = r.query;
      const limit = Math.min(Number(q.get('limit') ?? AUDIT_PAGE) || AUDIT_PAGE, 1000);
      const action = q.get('action') ?? '';
      const actor = q.get('actor') ?? '';
      const before = q.has('before') ? Number(q.get('before')) : Number.POSITIVE_INFINITY;
      const entries = cp.audit
        .list(q.get('service') ? { service: q.get('service')! } : {})
        .filter(
          (e) =>
            e.index < before &&
            (!action || e.action.startsWith(action)) &&
            (!actor || e.actor.includes(actor)),
        );
      // Newest first; `more`: older matching entries exist (ask again with before = the last index).
      return {
        size: cp.audit.size(),
        entries: entries.slice(-limit).reverse(),
        more: entries.length > limit,
      };
    })
    .on('GET', '/v1/audit/:index/proof', (r) => {
      const index = Number(r.params.index);
      const proof = cp.audit.prove(index);
      const origin = cp.audit.origin;
      if (!origin) throw new NotFoundError('proving: this workspace has no audit key', {});
      return {
        index,
        bytes: proof.bytes,
        hashes: proof.hashes,
        checkpoint: proof.checkpoint,
        verifierKey: verifierKey(origin, cp.audit.publicKey()),
      };
    })
    .on('POST', '/v1/deploy', async (r) => {
      const image = str(r.body, 'image', false);
      const release = str(r.body, 'release', false);
      if (!image && !release) throw new ValidationError('reading the request: give "image" or "release"', []);
      cp.disk.assertSpace(`deploying ${str(r.body, 'service')} to ${str(r.body, 'env')}`);
      expectUnchanged(cp, r, str(r.body, 'env')!);
      const d = await cp.deployments.deploy({
        service: str(r.body, 'service')!,
        env: str(r.body, 'env')!,
        ...(image ? { image } : {}),
        ...(release ? { release } : {}),
        approve: r.body.approve === true,
        actor: r.principal.actor,
      });
      return { deployment: rolloutView(d), warnings: d.warnings ?? [] };
    })
    .on('POST', '/v1/rollback', async (r) => {
      expectUnchanged(cp, r, str(r.body, 'env')!);
      const d = await cp.deployments.rollback(
        str(r.body, 'service')!,
        str(r.body, 'env')!,
        str(r.body, 'to', false),
        r.principal.actor,
        r.body.force === true,
      );
      return { deployment: rolloutView(d), warnings: d.warnings ?? [] };
    })
    .on('POST', '/v1/promote', async (r) => {
      cp.disk.assertSpace(`promoting ${str(r.body, 'service')} to ${str(r.body, 'to')}`);
      expectUnchanged(cp, r, str(r.body, 'to')!);
      const d = await cp.deployments.promote(
        str(r.body, 'service')!,
        str(r.body, 'from')!,
        str(r.body, 'to')!,
        r.body.approve === true,
        r.principal.actor,
      );
      return { deployment: rolloutView(d), warnings: d.warnings ?? [] };
    })
    .on('POST', '/v1/command', (r) => {
      const command = str(r.body, 'command') as UserCommand;
      if (!COMMANDS.includes(command))
        throw new ValidationError(`reading the request: unknown command "${command}"`, []);
      const service = str(r.body, 'service')!;
      const env = str(r.body, 'env')!;
      expectUnchanged(cp, r, env);
      const active = cp.store.listDeployments({ env, service, active: true })[0];
      if (!active)
        throw new ValidationError(`${command} ${service} in ${env}: no rollout is in progress`, []);
      cp.controller.command(active.id, command, r.principal.actor);
      return { deployment: rolloutView(cp.controller.tick(active)) };
    })
    .on('GET', '/v1/edge/plan', async () => ({ plan: await cp.edge.plan() }))
    .on('POST', '/v1/edge/apply', async (r) => ({ plan: await cp.edge.apply(r.principal.actor) }))
    .on('GET', '/v1/deployments/:id', (r) => {
      const d = cp.store.getDeployment(r.params.id!);
      if (!d) throw new ValidationError(`no deployment ${r.params.id}`, []);
      // Why the new release's instances are not healthy yet (deploy --wait prints each as it appears).
      const { to, startedAt } = d.state as { to?: string; startedAt?: number };
      const problems =
        to && startedAt ? cp.reconciler.problems(d.env, to, new Date(startedAt).toISOString()) : [];
      // A full disk can hold a rollout where it is (no instance starts, no state is saved): say so.
      return { deployment: rolloutView(d), problems, ...(cp.disk.isFull ? { disk: cp.disk.view() } : {}) };
    })
    .on('POST', '/v1/drift/clear', async (r) => {
      await cp.clearQuarantine(str(r.body, 'instance')!);
      return { cleared: r.body.instance };
    })
    .on(
      'POST',
      '/v1/shutdown',
      (r) => {
        cp.askToStop(r.body.keepInstances === true);
        return { stopping: true };
      },
      { workspaceOnly: true },
    )
    .on('GET', '/metrics', () => cp.metricsText(), { text: true });
}
