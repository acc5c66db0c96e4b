import { useEffect, useRef, useState } from 'preact/hooks';
import { call, errorText } from '../api.js';
import { ago, short } from '../format.js';
import type { InstanceView as Instance, Live } from '../types.js';

const REFRESH_MS = 2000;

/** Time left until `iso`, as the SVID expiry reads: "42s", "31m". */
function until(iso: string): string {
  const s = Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000));
  return s < 120 ? `${s}s` : `${Math.round(s / 60)}m`;
}

export function InstancesPage({ live }: { live: Live }) {
  const [list, setList] = useState<Instance[]>();
  const [error, setError] = useState('');
  const last = useRef(0);
  useEffect(() => {
    if (Date.now() - last.current < REFRESH_MS) return;
    last.current = Date.now();
    call<{ instances: Instance[] }>('GET', '/v1/instances')
      .then((r) => setList(r.instances))
      .catch((e) => setError(errorText(e)));
  }, [live.state]);
  return (
    <>
      <h1>Instances</h1>
      {error && <p class="error">{error}</p>}
      {list && (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Instance</th>
                <th scope="col">Where</th>
                <th scope="col">Release</th>
                <th scope="col">State</th>
                <th scope="col">Up</th>
                <th scope="col">Restarts</th>
                <th scope="col">Identity (SVID)</th>
                <th scope="col">Drift and events</th>
              </tr>
            </thead>
            <tbody>
              {list.map((i) => (
                <tr key={i.id} class={i.state}>
                  <td>
                    <code>{i.id}</code>
                  </td>
                  <td>
                    {i.service} in {i.env}
                  </td>
                  <td>
                    <code>{short(i.release, 16)}</code>
                  </td>
                  <td>{i.state}</td>
                  <td>
                    {i.state === 'stopped' || i.state === 'failed'
                      ? `ended ${ago(i.updatedAt)} ago`
                      : ago(i.since)}
                  </td>
                  <td>{i.restarts}</td>
                  <td>
                    {i.svid ? (
                      <>
                        <code>{i.svid.spiffeId}</code>
                        <div class="help">
                          serial <code title={i.svid.serial}>{short(i.svid.serial, 12)}</code>, expires in{' '}
                          {until(i.svid.notAfter)}
                        </div>
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>
                    {i.reason ?? '—'}
                    {i.forensics.map((f) => (
                      <div key={f} class="help">
                        <a href={`#/forensics/${f}`}>forensics {f.slice(i.id.length + 1)}</a>
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
