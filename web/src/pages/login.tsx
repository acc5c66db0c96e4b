import { useState } from 'preact/hooks';
import { call, errorText } from '../api.js';
import type { Session } from '../types.js';

export function LoginPage({ notice, onLogin }: { notice: string; onLogin: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      onLogin(await call<Session>('POST', '/ui/login', { token }));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
      setToken('');
    }
  };
  return (
    <main class="login">
      <h1>cairn</h1>
      <form onSubmit={submit}>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <label for="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        <p class="help">
          The workspace's <code>.cairn/api-token</code>, or one from <code>cairn token create</code>.
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}
