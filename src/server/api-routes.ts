/** The HTTP API of the control plane: what each endpoint does, in one table. */
import { ValidationError } from '../lib/index.js';
import type { UserCommand } from '../rollout/index.js';
import type { ApiServer } from './api-server.js';
import type { ControlPlane } from './control-plane.js';
import { driftView, historyView, rolloutView, statusView } from './status.js';

const COMMANDS: UserCommand[] = ['abort', 'pause', 'resume', 'promote-step'];
const API_ACTOR = 'api';

function str(body: Record<string, unknown>, key: string, required = true): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new ValidationError(`reading the request: "${key}" must be a non-empty string`, []);
  return v;
}

export function registerRoutes(api: ApiServer, cp: ControlPlane): void {
  api
    .on('GET', '/v1/health', () => ({ ok: true, pid: process.pid }))
    .on('GET', '/v1/status', (r) => {
      const env = r.query.get('env') ?? undefined;
      return { services: statusView(cp.store, env), drift: driftView(cp.store, cp.driftStatus(), env) };
    })
    .on('GET', '/v1/history', (r) => ({
      deployments: historyView(cp.store, r.query.get('service') ?? '', r.query.get('env') ?? ''),
    }))
    .on('POST', '/v1/deploy', async (r) => {
      const image = str(r.body, 'image', false);
      const release = str(r.body, 'release', false);
      if (!image && !release) throw new ValidationError('reading the request: give "image" or "release"', []);
      const d = await cp.deployments.deploy({
        service: str(r.body, 'service')!,
        env: str(r.body, 'env')!,
        ...(image ? { image } : {}),
        ...(release ? { release } : {}),
        approve: r.body.approve === true,
        actor: API_ACTOR,
      });
      return { deployment: rolloutView(d), warnings: d.warnings ?? [] };
    })
    .on('POST', '/v1/rollback', async (r) => {
      const d = await cp.deployments.rollback(
        str(r.body, 'service')!,
        str(r.body, 'env')!,
        str(r.body, 'to', false),
        API_ACTOR,
        r.body.force === true,
      );
      return { deployment: rolloutView(d), warnings: d.warnings ?? [] };
    })
    .on('POST', '/v1/promote', async (r) => {
      const d = await cp.deployments.promote(
        str(r.body, 'service')!,
        str(r.body, 'from')!,
        str(r.body, 'to')!,
        r.body.approve === true,
        API_ACTOR,
      );
      return { deployment: rolloutView(d), warnings: d.warnings ?? [] };
    })
    .on('POST', '/v1/command', (r) => {
      const command = str(r.body, 'command') as UserCommand;
      if (!COMMANDS.includes(command))
        throw new ValidationError(`reading the request: unknown command "${command}"`, []);
      const service = str(r.body, 'service')!;
      const env = str(r.body, 'env')!;
      const active = cp.store.listDeployments({ env, service, active: true })[0];
      if (!active)
        throw new ValidationError(`${command} ${service} in ${env}: no rollout is in progress`, []);
      cp.controller.command(active.id, command);
      return { deployment: rolloutView(cp.controller.tick(active)) };
    })
    .on('GET', '/v1/deployments/:id', (r) => {
      const d = cp.store.getDeployment(r.params.id!);
      if (!d) throw new ValidationError(`no deployment ${r.params.id}`, []);
      return { deployment: rolloutView(d) };
    })
    .on('POST', '/v1/drift/clear', async (r) => {
      await cp.clearQuarantine(str(r.body, 'instance')!);
      return { cleared: r.body.instance };
    })
    .on('POST', '/v1/shutdown', (r) => {
      cp.askToStop(r.body.keepInstances === true);
      return { stopping: true };
    })
    .on('GET', '/metrics', () => cp.metricsText(), { text: true });
}
