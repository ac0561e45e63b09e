/**
 * A workflow's resources as one identity sees them, live (the protocol's resource stream): the signed-in
 * identity by default, or the identity of another token ("view as"), since identities are proven by
 * credentials, never claimed. Each resource has the form to act on it as that identity.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ResourceInfo } from '../../core/resource-stream.js';
import { clientFor, errorText, type Session } from './api.js';
import { ActForm } from './act-form.js';
import { showValue } from './format.js';

/** What a stream has told so far. */
export interface StreamState {
  resources: ResourceInfo[] | undefined;
  /** Snapshots received (each one is a change). */
  changes: number;
  outcome: { status: 'completed'; value: unknown } | { status: 'failed'; error: string } | undefined;
  error: string | null;
}

/** Follow the resource stream of workflow `id` as `session`'s principal. */
export function useResourceStream(session: Session, id: string): StreamState {
  const [state, setState] = useState<StreamState>({ resources: undefined, changes: 0, outcome: undefined, error: null });
  useEffect(() => {
    const stream = session.client.resourceStream(id);
    let stopped = false;
    void (async () => {
      try {
        for await (const snapshot of stream) {
          if (stopped) return;
          setState((s) => ({ ...s, resources: snapshot.resources, changes: s.changes + 1, error: null }));
        }
        if (stopped) return;
        const value = await stream.result();
        setState((s) => ({ ...s, changes: s.changes + 1, outcome: { status: 'completed', value } }));
      } catch (failure) {
        if (stopped) return;
        const finished = stream.outcome?.status === 'failed';
        setState((s) => ({ ...s, changes: s.changes + 1, ...(finished ? { outcome: { status: 'failed', error: errorText(failure) } } : { error: errorText(failure) }) }));
      }
    })();
    return () => {
      stopped = true;
      void stream.return();
    };
  }, [session, id]);
  return state;
}

function ResourceCard(props: { session: Session; workflowId: string; resource: ResourceInfo }) {
  const r = props.resource;
  return (
    <li class="resource" data-resource={r.name}>
      <h3>
        <code>{r.name}</code> <span class="kind">{r.kind}</span> <span class="owner">{r.identity === null ? 'public' : `private to ${r.identity}`}</span>
      </h3>
      <pre class="view" data-testid={`view-${r.name}`}>{showValue(r.view, 2000)}</pre>
      <ActForm session={props.session} workflowId={props.workflowId} resource={r} />
    </li>
  );
}

function ResourceList(props: { session: Session; workflowId: string; stream: StreamState }) {
  const { resources, error } = props.stream;
  return (
    <>
      {error !== null && <p role="alert" class="error">{error}</p>}
      {resources === undefined ? (
        error === null && props.stream.outcome === undefined && <p class="muted">Waiting for the workflow's resources…</p>
      ) : resources.length === 0 ? (
        <p class="muted">No resource is visible to this identity.</p>
      ) : (
        <ul class="resources">
          {resources.map((r) => (
            <ResourceCard key={`${r.name}/${r.identity ?? ''}`} session={props.session} workflowId={props.workflowId} resource={r} />
          ))}
        </ul>
      )}
    </>
  );
}

/** The resources of another token's identity, for an operator checking what a user sees. */
function ViewAs(props: { workflowId: string }) {
  const [token, setToken] = useState('');
  const [other, setOther] = useState<Session | null>(null);
  const [error, setError] = useState<string | null>(null);
  const open = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(null);
    try {
      const client = clientFor(token);
      const principal = await client.whoami();
      setOther({ client, principal, admin: principal.roles.includes('admin') });
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <details class="view-as">
      <summary>View as another identity</summary>
      <form onSubmit={open}>
        <label>
          That identity's token
          <input type="password" value={token} onInput={(e) => setToken(e.currentTarget.value)} required />
        </label>
        <button type="submit">View</button>
      </form>
      {error !== null && <p role="alert" class="error">{error}</p>}
      {other !== null && <OtherIdentity key={other.principal.identity} session={other} workflowId={props.workflowId} />}
    </details>
  );
}

function OtherIdentity(props: { session: Session; workflowId: string }) {
  const stream = useResourceStream(props.session, props.workflowId);
  return (
    <div class="other">
      <p>As <strong>{props.session.principal.identity ?? 'anonymous'}</strong>:</p>
      <ResourceList session={props.session} workflowId={props.workflowId} stream={stream} />
    </div>
  );
}

export function ResourcesPanel(props: { session: Session; workflowId: string; stream: StreamState }) {
  return (
    <section aria-labelledby="resources-title" class="resources-panel">
      <h2 id="resources-title">Resources <span class="muted">as {props.session.principal.identity ?? 'anonymous'}</span></h2>
      <ResourceList {...props} />
      <ViewAs workflowId={props.workflowId} />
    </section>
  );
}
