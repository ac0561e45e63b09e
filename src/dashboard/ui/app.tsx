/**
 * The dashboard's shell: sign-in, the header (who is signed in), and the views by URL hash:
 * `#/` the workflow list, `#/w/<id>` one workflow, `#/insights` versions and plots.
 */
import { useEffect, useState } from 'preact/hooks';
import { errorText, forgetToken, savedToken, saveToken, signIn, type Session } from './api.js';
import { Insights } from './insights.js';
import { SignIn } from './sign-in.js';
import { WorkflowList } from './workflow-list.js';
import { WorkflowView } from './workflow-view.js';

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = (): void => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(savedToken() !== null);
  const [error, setError] = useState<string | null>(null);
  const hash = useHash();

  const open = async (token: string): Promise<void> => {
    setError(null);
    try {
      const opened = await signIn(token);
      saveToken(token);
      setSession(opened);
    } catch (failure) {
      forgetToken();
      setError(errorText(failure));
    } finally {
      setChecking(false);
    }
  };

  useEffect(() => {
    const token = savedToken();
    if (token !== null) void open(token);
  }, []);

  if (session === null) {
    return checking ? <p class="loading">Signing in…</p> : <SignIn onSubmit={open} error={error} />;
  }
  const signOut = (): void => {
    forgetToken();
    setSession(null);
  };
  const workflowId = hash.startsWith('#/w/') ? decodeURIComponent(hash.slice(4)) : undefined;
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">Quest</a>
        <nav aria-label="Views">
          <a href="#/" aria-current={workflowId === undefined && hash !== '#/insights' ? 'page' : undefined}>Workflows</a>
          {session.admin && <a href="#/insights" aria-current={hash === '#/insights' ? 'page' : undefined}>Insights</a>}
        </nav>
        <span class="who">
          Signed in as <strong data-testid="identity">{session.principal.identity ?? 'anonymous'}</strong>
          {session.principal.roles.length > 0 && <span class="roles"> ({session.principal.roles.join(', ')})</span>}
        </span>
        <button type="button" onClick={signOut}>Sign out</button>
      </header>
      <main>
        {workflowId !== undefined ? (
          <WorkflowView key={workflowId} session={session} id={workflowId} />
        ) : hash === '#/insights' && session.admin ? (
          <Insights session={session} />
        ) : (
          <WorkflowList session={session} />
        )}
      </main>
    </>
  );
}
