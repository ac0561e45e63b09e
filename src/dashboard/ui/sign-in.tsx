/** The sign-in form: a bearer token (or JWT), checked with the server before it is kept. */
import { useState } from 'preact/hooks';

export function SignIn(props: { onSubmit: (token: string) => Promise<void>; error: string | null }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (token.trim() === '') return;
    setBusy(true);
    await props.onSubmit(token.trim());
    setBusy(false);
  };
  return (
    <main class="sign-in">
      <h1>Quest dashboard</h1>
      <form onSubmit={submit}>
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" value={token} onInput={(e) => setToken(e.currentTarget.value)} required />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {props.error !== null && (
          <p role="alert" class="error">
            {props.error}
          </p>
        )}
        <p class="hint">The page acts as the token's identity. The token is kept for this tab only (sessionStorage).</p>
      </form>
    </main>
  );
}
