import { useEffect, useState } from 'preact/hooks';
import { call, errorText } from '../api.js';
import { ago, short } from '../format.js';
import type { ReleaseView as Release, Rollout } from '../types.js';

export function HistoryPage({ env, service }: { env: string; service: string }) {
  const [data, setData] = useState<{ deployments: Rollout[]; releases: Record<string, Release | null> }>();
  const [error, setError] = useState('');
  useEffect(() => {
    const q = new URLSearchParams({ service, env });
    call<{ deployments: Rollout[]; releases: Record<string, Release | null> }>('GET', `/v1/history?${q}`)
      .then(setData)
      .catch((e) => setError(errorText(e)));
  }, [env, service]);
  return (
    <>
      <h1>
        Releases of {service} in {env}
      </h1>
      {error && <p class="error">{error}</p>}
      {data && data.deployments.length === 0 && <p>Nothing was deployed yet.</p>}
      {data && data.deployments.length > 0 && (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Rollout</th>
                <th scope="col">When</th>
                <th scope="col">Release</th>
                <th scope="col">Image</th>
                <th scope="col">Source commit</th>
                <th scope="col">Signed by</th>
                <th scope="col">Gates passed</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {[...data.deployments].reverse().map((d) => {
                const rel = data.releases[d.to];
                return (
                  <tr key={d.id}>
                    <td>
                      {d.strategy}
                      {d.from ? ` from ${short(d.from, 16)}` : ''}
                    </td>
                    <td>
                      <time dateTime={d.createdAt} title={d.createdAt}>
                        {ago(d.createdAt)} ago
                      </time>
                    </td>
                    <td>
                      <code>{short(d.to, 16)}</code>
                    </td>
                    <td>
                      <code title={rel?.imageDigest}>{short(rel?.imageDigest, 19)}</code>
                    </td>
                    <td>
                      <code>{rel?.sourceCommit ? short(rel.sourceCommit, 10) : 'not recorded'}</code>
                    </td>
                    <td>
                      {rel?.signers?.length
                        ? `✓ key ${rel.signers.map((k) => k.slice(0, 12)).join(', ')}`
                        : rel?.signatures.length
                          ? `✓ ${rel.signatures.length} signature(s)`
                          : '✗ unsigned'}
                    </td>
                    <td>{rel?.gates.length ? rel.gates.join(', ') : '—'}</td>
                    <td>
                      {d.phase}
                      {d.reason ? `: ${d.reason}` : ''}
                      {d.durationMs !== undefined ? ` (${(d.durationMs / 1000).toFixed(1)} s)` : ''}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
