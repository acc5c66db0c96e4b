import { ActionButton } from '../actions.js';
import { ago, inProgress, short } from '../format.js';
import type { DriftStatus, Live, ServiceStatus } from '../types.js';

export function Traffic({ weights }: { weights: ServiceStatus['weights'] }) {
  if (weights.length === 0) return <span>no traffic</span>;
  return (
    <div class="traffic">
      <div class="bar" aria-hidden="true">
        {weights.map((w, i) => (
          <span key={w.release} class={`seg s${i % 4}`} style={{ width: `${w.weight}%` }} />
        ))}
      </div>
      <span>{weights.map((w) => `${short(w.release, 16)} ${w.weight}%`).join(' · ')}</span>
    </div>
  );
}

function driftText(s: ServiceStatus, drift: DriftStatus | undefined): string {
  if (!drift) return 'not checked';
  const quarantined = drift.quarantined.filter((q) => q.service === s.service).length;
  if (quarantined) return `⚠ ${quarantined} quarantined`;
  if (!drift.lastCheck) return `${drift.mode}: not checked yet`;
  return drift.lastCheck.notInSync
    ? `✗ ${drift.lastCheck.notInSync} not in sync`
    : `✓ in sync (checked ${ago(drift.lastCheck.at)} ago)`;
}

export function OverviewPage({ live, canAct }: { live: Live; canAct: boolean }) {
  const state = live.state;
  if (!state) return <p>Waiting for the control plane…</p>;
  return (
    <>
      <h1>Environments</h1>
      {state.environments.map((env) => {
        const here = state.services.filter((s) => s.env === env.name);
        // Services of the predecessor not deployed here yet: a row to promote them from.
        const waiting = env.after
          ? state.services
              .filter((s) => s.env === env.after && !here.some((h) => h.service === s.service))
              .map((s): ServiceStatus => ({ env: env.name, service: s.service, weights: [], instances: [] }))
          : [];
        const services = [...here, ...waiting];
        const drift = state.drift.find((d) => d.env === env.name);
        return (
          <section key={env.name} aria-labelledby={`env-${env.name}`} class="env">
            <h2 id={`env-${env.name}`}>
              {env.name} {env.after && <span class="after">after {env.after}</span>}
            </h2>
            {services.length === 0 ? (
              <p>Nothing deployed here yet.</p>
            ) : (
              <div class="scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Service</th>
                      <th scope="col">Serving</th>
                      <th scope="col">Previous</th>
                      <th scope="col">Traffic</th>
                      <th scope="col">Health</th>
                      <th scope="col">Drift</th>
                      <th scope="col">Rollout</th>
                      <th scope="col">Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    {services.map((s) => {
                      const healthy = s.instances.filter((i) => i.state === 'healthy').length;
                      const r = s.rollout;
                      const active = r && inProgress(r.phase);
                      return (
                        <tr key={s.service} data-testid={`row-${env.name}-${s.service}`}>
                          <th scope="row">{s.service}</th>
                          <td>
                            <code>{short(s.release, 16)}</code>
                          </td>
                          <td>
                            <code>{short(s.previousRelease, 16)}</code>
                          </td>
                          <td>
                            <Traffic weights={s.weights} />
                          </td>
                          <td>
                            {s.instances.length === 0
                              ? 'not running'
                              : `${healthy === s.instances.length ? '✓' : '✗'} ${healthy}/${s.instances.length} healthy`}
                          </td>
                          <td>{driftText(s, drift)}</td>
                          <td>
                            {r ? (
                              <a href={`#/rollout/${env.name}/${s.service}`}>
                                {active
                                  ? `${r.strategy} ${r.phase}: step ${r.step + 1}/${r.steps}, ${r.weight}%`
                                  : `${r.strategy} ${r.phase} ${ago(r.finishedAt)} ago`}
                              </a>
                            ) : (
                              '—'
                            )}
                          </td>
                          <td>
                            <div class="actions">
                              {(active || s.previousRelease) && (
                                <ActionButton
                                  action="rollback"
                                  service={s.service}
                                  env={env.name}
                                  canAct={canAct}
                                />
                              )}
                              {env.after && (
                                <ActionButton
                                  action="promote"
                                  service={s.service}
                                  env={env.name}
                                  from={env.after}
                                  canAct={canAct}
                                  label={`Promote from ${env.after}`}
                                />
                              )}
                              <a href={`#/history/${env.name}/${s.service}`}>History</a>
                            </div>
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        );
      })}
    </>
  );
}
