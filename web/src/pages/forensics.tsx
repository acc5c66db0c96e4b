import { useEffect, useState } from 'preact/hooks';
import { call, errorText } from '../api.js';

interface Forensics {
  name: string;
  at: string;
  instance: string;
  service: string;
  env: string;
  release: string;
  status: string;
  findings: string[];
  copied: string[];
}

/** What drift kept about an instance before replacing it: the findings, and which files were copied. */
export function ForensicsPage({ name }: { name: string }) {
  const [data, setData] = useState<Forensics>();
  const [error, setError] = useState('');
  useEffect(() => {
    call<Forensics>('GET', `/v1/forensics/${encodeURIComponent(name)}`)
      .then(setData)
      .catch((e) => setError(errorText(e)));
  }, [name]);
  return (
    <>
      <h1>Forensics of {data?.instance ?? name}</h1>
      {error && <p class="error">{error}</p>}
      {data && (
        <>
          <p>
            {data.service} in {data.env}, release <code>{data.release}</code>: {data.status} at{' '}
            <time dateTime={data.at}>{data.at}</time>.
          </p>
          <h2>What differed from the signed artifact</h2>
          <ul data-testid="findings">
            {data.findings.map((f) => (
              <li key={f}>{f}</li>
            ))}
          </ul>
          <h2>Files kept</h2>
          {data.copied.length ? (
            <ul>
              {data.copied.map((f) => (
                <li key={f}>
                  <code>{f}</code>
                </li>
              ))}
            </ul>
          ) : (
            <p>None (only small changed or added files are copied).</p>
          )}
          <p class="help">
            The copies are on the machine, under <code>.cairn/forensics/{data.name}/files</code>; the
            dashboard does not serve their contents.
          </p>
        </>
      )}
      <p>
        <a href="#/instances">Back to the instances</a>
      </p>
    </>
  );
}
