import { useEffect, useState } from 'preact/hooks';
import { call, errorText } from '../api.js';
import { type ProofInput, type ProofVerdict, verifyProof } from '../proof.js';
import type { Live } from '../types.js';

interface Entry {
  index: number;
  time: string;
  actor: string;
  action: string;
  subject: Record<string, string>;
  reason?: string;
}

function ProofCell({ index }: { index: number }) {
  const [verdict, setVerdict] = useState<ProofVerdict | undefined>();
  const [busy, setBusy] = useState(false);
  const check = async () => {
    setBusy(true);
    try {
      setVerdict(await verifyProof(await call<ProofInput>('GET', `/v1/audit/${index}/proof`)));
    } catch (e) {
      setVerdict({ ok: false, detail: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  if (verdict)
    return (
      <span class={verdict.ok ? 'ok' : 'error'} data-testid={`proof-${index}`} role="status">
        {verdict.ok ? '✓ verified: ' : '✗ not verified: '}
        {verdict.detail}
        {verdict.root && <code title={verdict.root}> root {verdict.root.slice(0, 12)}…</code>}
      </span>
    );
  return (
    <button
      type="button"
      disabled={busy}
      onClick={check}
      aria-label={`Verify the inclusion proof of entry ${index}`}
    >
      Verify proof
    </button>
  );
}

/** One click to the events an auditor asks about most: each sets the Type filter to its prefix. */
const QUICK: Array<[string, string]> = [
  ['All', ''],
  ['Deploys', 'deploy.'],
  ['Drift', 'drift.'],
  ['Identity', 'identity.'],
  ['Admission', 'admission.'],
  ['Secrets', 'secret.'],
];

export function AuditPage({ live }: { live: Live }) {
  const [filter, setFilter] = useState({ action: '', service: '', actor: '' });
  const [entries, setEntries] = useState<Entry[]>();
  const [more, setMore] = useState(false);
  const [older, setOlder] = useState<Entry[]>([]);
  const [error, setError] = useState('');
  const size = live.state?.auditSize;
  const query = (extra: Record<string, string> = {}) =>
    new URLSearchParams({ ...Object.fromEntries(Object.entries(filter).filter(([, v]) => v)), ...extra });
  useEffect(() => {
    setOlder([]);
  }, [filter]);
  useEffect(() => {
    // A newer filter or a new entry starts a newer request: the answer to an older one must not
    // replace it when it arrives late (a click on "Identity" would show the unfiltered list).
    let superseded = false;
    call<{ entries: Entry[]; more: boolean }>('GET', `/v1/audit?${query()}`)
      .then((r) => {
        if (superseded) return;
        setEntries(r.entries);
        if (older.length === 0) setMore(r.more);
        setError('');
      })
      .catch((e) => {
        if (!superseded) setError(errorText(e));
      });
    return () => {
      superseded = true;
    };
  }, [filter, size]);
  const showOlder = () => {
    const last = [...(entries ?? []), ...older].at(-1);
    if (!last) return;
    call<{ entries: Entry[]; more: boolean }>('GET', `/v1/audit?${query({ before: String(last.index) })}`)
      .then((r) => {
        setOlder([...older, ...r.entries]);
        setMore(r.more);
      })
      .catch((e) => setError(errorText(e)));
  };
  const shown = [...(entries ?? []), ...older.filter((o) => !entries?.some((e) => e.index === o.index))];
  const field = (key: keyof typeof filter, label: string, hint: string) => (
    <div class="field">
      <label for={`f-${key}`}>{label}</label>
      <input
        id={`f-${key}`}
        value={filter[key]}
        placeholder={hint}
        onChange={(e) => setFilter({ ...filter, [key]: (e.target as HTMLInputElement).value.trim() })}
      />
    </div>
  );
  return (
    <>
      <h1>Audit log</h1>
      <p class="help">
        {size ?? '…'} entries. "Verify proof" checks, in this browser, that the entry is in the Merkle tree of
        the latest signed checkpoint (RFC 6962, Ed25519), as <code>cairn audit verify</code> does.
      </p>
      <fieldset class="quick-filters">
        <legend>Show only</legend>
        {QUICK.map(([label, prefix]) => (
          <button
            type="button"
            key={label}
            aria-pressed={filter.action === prefix}
            onClick={() => setFilter({ ...filter, action: prefix })}
          >
            {label}
          </button>
        ))}
      </fieldset>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter the audit log">
        {field('action', 'Type', 'e.g. rollout.')}
        {field('service', 'Service', 'e.g. hello')}
        {field('actor', 'Actor', 'e.g. alice')}
      </form>
      {error && <p class="error">{error}</p>}
      {entries && (
        <div class="scroll">
          <table data-testid="audit">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Time</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Subject</th>
                <th scope="col">Reason</th>
                <th scope="col">Proof</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((e) => (
                <tr key={e.index} data-action={e.action}>
                  <td>{e.index}</td>
                  <td>
                    <time dateTime={e.time}>{e.time.replace('T', ' ').slice(0, 19)}</time>
                  </td>
                  <td>{e.actor}</td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td>
                    {Object.entries(e.subject)
                      .map(([k, v]) => `${k} ${k === 'image' ? `${v.slice(0, 19)}…` : v}`)
                      .join(', ')}
                  </td>
                  <td>{e.reason ?? ''}</td>
                  <td>
                    <ProofCell index={e.index} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {more && (
            <button type="button" onClick={showOlder}>
              Show older entries
            </button>
          )}
        </div>
      )}
    </>
  );
}
