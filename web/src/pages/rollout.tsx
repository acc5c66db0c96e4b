import { useMemo } from 'preact/hooks';
import { ActionButton } from '../actions.js';
import { Chart } from '../chart.js';
import { ago, inProgress, pct, short } from '../format.js';
import type { Live, Sample } from '../types.js';
import { Traffic } from './overview.js';

function seriesOf(samples: Sample[], pick: (r: Sample['releases'][string]) => number) {
  const releases = [...new Set(samples.flatMap((s) => Object.keys(s.releases)))];
  return {
    xs: samples.map((s) => s.t / 1000),
    series: releases.map((release) => ({
      label: short(release, 16),
      values: samples.map((s) => (s.releases[release] ? pick(s.releases[release]!) : null)),
    })),
  };
}

export function RolloutPage({
  live,
  env,
  service,
  canAct,
}: {
  live: Live;
  env: string;
  service: string;
  canAct: boolean;
}) {
  const status = live.state?.services.find((s) => s.env === env && s.service === service);
  const r = status?.rollout;
  const samples = (r && live.series[r.id]) || [];
  const charts = useMemo(
    () => ({
      weight: seriesOf(samples, (x) => x.weight),
      rps: seriesOf(samples, (x) => x.rps),
      errors: seriesOf(samples, (x) => x.errorRate * 100),
      p99: seriesOf(samples, (x) => x.p99Ms),
    }),
    [samples],
  );
  if (!live.state) return <p>Waiting for the control plane…</p>;
  if (!status || !r)
    return (
      <p>
        No rollout of {service} in {env} yet. <a href="#/">Back to the environments</a>
      </p>
    );
  const active = inProgress(r.phase);
  const v = r.lastVerdict;
  return (
    <>
      <h1>
        {service} in {env}: {r.strategy} of <code>{short(r.to, 16)}</code>
      </h1>
      <p class="phase" data-testid="phase">
        {r.phase} · {r.stage} · started {ago(r.createdAt)} ago{r.reason ? ` · ${r.reason}` : ''}
      </p>
      <div class="actions">
        {active && r.phase !== 'paused' && (
          <ActionButton action="pause" service={service} env={env} canAct={canAct} />
        )}
        {r.phase === 'paused' && <ActionButton action="resume" service={service} env={env} canAct={canAct} />}
        {active && <ActionButton action="promote-step" service={service} env={env} canAct={canAct} />}
        {active && <ActionButton action="abort" service={service} env={env} canAct={canAct} />}
        {(active || status.previousRelease) && (
          <ActionButton action="rollback" service={service} env={env} canAct={canAct} />
        )}
        <a href={`#/history/${env}/${service}`}>History</a>
      </div>
      <div class="rollout">
        <section aria-labelledby="steps-h" class="steps">
          <h2 id="steps-h">Steps</h2>
          <ol data-testid="steps">
            {r.stepList.map((step, i) => {
              const state =
                !active && r.phase === 'succeeded'
                  ? 'done'
                  : i < r.step
                    ? 'done'
                    : i === r.step
                      ? 'now'
                      : 'next';
              return (
                <li
                  key={`${i}-${step}`}
                  class={state}
                  aria-current={active && i === r.step ? 'step' : undefined}
                >
                  <span class="mark">{state === 'done' ? '✓' : state === 'now' ? '▶' : '○'}</span> {step}
                  {active && i === r.step && <span class="now"> (now)</span>}
                </li>
              );
            })}
          </ol>
          <h2>Traffic</h2>
          <Traffic weights={status.weights} />
          <h2>Analysis</h2>
          {v ? (
            <div class={`verdict ${v.verdict}`} data-testid="verdict">
              <p>
                <strong>
                  {v.verdict === 'pass' ? '✓ pass' : v.verdict === 'fail' ? '✗ fail' : '? inconclusive'}
                </strong>
                : {v.rule}
              </p>
              <table>
                <thead>
                  <tr>
                    <th scope="col" />
                    <th scope="col">requests</th>
                    <th scope="col">errors</th>
                    <th scope="col">p99</th>
                  </tr>
                </thead>
                <tbody>
                  <tr>
                    <th scope="row">canary</th>
                    <td>{v.canary.requests}</td>
                    <td>{pct(v.canary.errorRate)}</td>
                    <td>{v.canary.p99Ms.toFixed(1)} ms</td>
                  </tr>
                  {v.stable && (
                    <tr>
                      <th scope="row">stable</th>
                      <td>{v.stable.requests}</td>
                      <td>{pct(v.stable.errorRate)}</td>
                      <td>{v.stable.p99Ms.toFixed(1)} ms</td>
                    </tr>
                  )}
                </tbody>
              </table>
              <p class="help">over the last {Math.round(v.windowMs / 1000)} s</p>
            </div>
          ) : (
            <p>No analysis yet.</p>
          )}
        </section>
        <section aria-label="Charts" class="charts">
          <Chart id="chart-weight" title="Traffic weight" unit="%" {...charts.weight} />
          <Chart id="chart-rps" title="Requests per second" unit="req/s" {...charts.rps} />
          <Chart id="chart-errors" title="Error rate" unit="%" {...charts.errors} />
          <Chart id="chart-p99" title="Latency p99" unit="ms" {...charts.p99} />
        </section>
      </div>
    </>
  );
}
