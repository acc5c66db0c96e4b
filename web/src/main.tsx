/**
 * The cairn dashboard: log in with a token, then every page reads one Server-Sent Events stream
 * from the control plane (a snapshot a second at most, only when something changed) and acts
 * through the same API as the CLI. Routes live in the URL hash, so a reload or a new login lands
 * on the same page.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ConfirmHost } from './actions.js';
import { call, setSession } from './api.js';
import { AuditPage } from './pages/audit.js';
import { ForensicsPage } from './pages/forensics.js';
import { HistoryPage } from './pages/history.js';
import { InstancesPage } from './pages/instances.js';
import { LoginPage } from './pages/login.js';
import { OverviewPage } from './pages/overview.js';
import { RolloutPage } from './pages/rollout.js';
import type { Live, Sample, Session, State } from './types.js';
import './styles.css';

const MAX_SAMPLES = 900;

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

/** The event stream; reconnects by itself, and reports an ended session. */
function useLive(session: Session | undefined, expired: () => void): Live {
  const [live, setLive] = useState<Live>({ state: undefined, series: {}, connected: false });
  useEffect(() => {
    if (!session) return;
    let source: EventSource | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const connect = () => {
      source = new EventSource('/v1/events');
      source.addEventListener('hello', (e) => {
        const data = JSON.parse((e as MessageEvent).data) as {
          state: State;
          series: Record<string, Sample[]>;
        };
        setLive({ state: data.state, series: data.series, connected: true });
      });
      source.addEventListener('snapshot', (e) => {
        const data = JSON.parse((e as MessageEvent).data) as {
          state: State;
          samples: Record<string, Sample>;
        };
        setLive((prev) => {
          const series = { ...prev.series };
          for (const [id, sample] of Object.entries(data.samples)) {
            const list = [...(series[id] ?? []), sample];
            series[id] = list.length > MAX_SAMPLES ? list.slice(-MAX_SAMPLES) : list;
          }
          return { state: data.state, series, connected: true };
        });
      });
      source.onerror = () => {
        setLive((prev) => ({ ...prev, connected: false }));
        if (source?.readyState !== EventSource.CLOSED || stopped) return;
        // Closed for good (a 401, or the control plane gone): is the session still there?
        fetch('/ui/session', { credentials: 'same-origin' })
          .then((res) => {
            if (res.status === 401) expired();
            else retry = setTimeout(connect, 2000);
          })
          .catch(() => {
            retry = setTimeout(connect, 2000);
          });
      };
    };
    connect();
    return () => {
      stopped = true;
      source?.close();
      if (retry) clearTimeout(retry);
    };
  }, [session]);
  return live;
}

function App() {
  const [session, setSessionState] = useState<Session | undefined>();
  const [checked, setChecked] = useState(false);
  const [notice, setNotice] = useState('');
  const hash = useHash();
  const expired = () => {
    setSessionState(undefined);
    setNotice('Your session ended. Log in again to carry on where you were.');
  };
  const start = (s: Session) => {
    setSession(s.csrf, expired);
    setSessionState(s);
    setNotice('');
  };
  useEffect(() => {
    call<Session>('GET', '/ui/session')
      .then(start)
      .catch(() => {})
      .finally(() => setChecked(true));
  }, []);
  const live = useLive(session, expired);
  if (!checked) return <p class="boot">Loading…</p>;
  if (!session) return <LoginPage notice={notice} onLogin={start} />;
  const [, page = '', ...rest] = hash.slice(1).split('/');
  const canAct = session.role === 'operator';
  const logout = async () => {
    await call('POST', '/ui/logout').catch(() => {});
    setSessionState(undefined);
    setNotice('Logged out.');
  };
  let body: preact.JSX.Element;
  if (page === 'rollout')
    body = <RolloutPage live={live} env={rest[0] ?? ''} service={rest[1] ?? ''} canAct={canAct} />;
  else if (page === 'history') body = <HistoryPage env={rest[0] ?? ''} service={rest[1] ?? ''} />;
  else if (page === 'instances') body = <InstancesPage live={live} />;
  else if (page === 'audit') body = <AuditPage live={live} />;
  else if (page === 'forensics') body = <ForensicsPage name={rest[0] ?? ''} />;
  else body = <OverviewPage live={live} canAct={canAct} />;
  const nav = [
    ['#/', 'Environments', page === ''],
    ['#/instances', 'Instances', page === 'instances' || page === 'forensics'],
    ['#/audit', 'Audit log', page === 'audit'],
  ] as const;
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          cairn
        </a>
        <nav aria-label="Pages">
          {nav.map(([href, label, current]) => (
            <a key={href} href={href} aria-current={current ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class={`conn ${live.connected ? 'on' : 'off'}`} role="status" data-testid="connection">
          {live.connected ? '● live' : '○ reconnecting…'}
        </span>
        <span class="who">
          {session.user} <span class="badge">{session.role}</span>
        </span>
        <button type="button" class="link" onClick={logout}>
          Log out
        </button>
      </header>
      <main id="main">{body}</main>
      <ConfirmHost />
    </>
  );
}

render(<App />, document.getElementById('app')!);
