/**
 * One workflow: what it is (admin: from the list), its outcome, its resources live, its history (admin:
 * histories hold every identity's values) reloaded on every change the stream reports, and the admin's
 * cancel and delete (with confirmation).
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { errorText, type Session } from './api.js';
import { formatDuration, formatTime } from './format.js';
import { HistoryTimeline } from './history-timeline.js';
import { usePolled } from './hooks.js';
import { ResourcesPanel, useResourceStream, type StreamState } from './resources-panel.js';
import { WorkflowState } from './workflow-state.js';

function showOutcome(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

function Outcome({ stream }: { stream: StreamState }) {
  const outcome = stream.outcome;
  if (outcome === undefined) return null;
  return (
    <section aria-labelledby="outcome-title" class={`outcome ${outcome.status}`}>
      <h2 id="outcome-title">{outcome.status === 'completed' ? 'Result' : 'Error'}</h2>
      <pre data-testid="outcome">{outcome.status === 'completed' ? showOutcome(outcome.value) : outcome.error}</pre>
    </section>
  );
}

function AdminActions(props: { session: Session; id: string; finished: boolean; onDone: () => void }) {
  const [confirming, setConfirming] = useState(false);
  // Keyboard users land on the safe choice when asked, and back on the button when they keep it.
  const keep = useRef<HTMLButtonElement>(null);
  const ask = useRef<HTMLButtonElement>(null);
  const asked = useRef(false);
  useLayoutEffect(() => {
    if (confirming) keep.current?.focus();
    else if (asked.current) ask.current?.focus();
    asked.current ||= confirming;
  }, [confirming]);
  const [error, setError] = useState<string | null>(null);
  const run = async (action: () => Promise<void>, after: () => void): Promise<void> => {
    setError(null);
    try {
      await action();
      after();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <div class="admin-actions">
      {!props.finished && (
        <button type="button" onClick={() => void run(() => props.session.client.cancel(props.id), props.onDone)}>Cancel workflow</button>
      )}
      {confirming ? (
        <div role="group" aria-label="Confirm deletion" class="confirm">
          <span>Delete {props.id} with its history and result? This cannot be undone.</span>
          <button type="button" class="danger" onClick={() => void run(() => props.session.client.delete(props.id), () => (location.hash = '#/'))}>Yes, delete</button>
          <button type="button" ref={keep} onClick={() => setConfirming(false)}>Keep it</button>
        </div>
      ) : (
        <button type="button" class="danger" ref={ask} onClick={() => setConfirming(true)}>Delete workflow…</button>
      )}
      {error !== null && <p role="alert" class="error">{error}</p>}
    </div>
  );
}

export function WorkflowView(props: { session: Session; id: string }) {
  const { session, id } = props;
  const stream = useResourceStream(session, id);
  const info = usePolled(
    async () => (session.admin ? (await session.client.workflows({ id, limit: 1 })).items[0] : undefined),
    [id],
  );
  const history = usePolled(() => (session.admin ? session.client.history(id) : Promise.resolve(undefined)), [id]);
  // Every snapshot is a change: the history and the state moved with it.
  useEffect(() => {
    if (stream.changes > 1) {
      history.reload();
      info.reload();
    }
  }, [stream.changes]);
  // The list may say the workflow was evicted; this view's resource stream resumes it and keeps it in memory,
  // so once the stream's first snapshot is in, it is resident whatever the (older) list said.
  const w = info.value;
  const finished = stream.outcome !== undefined || (w !== undefined && ['completed', 'failed', 'cancelled'].includes(w.status));
  return (
    <article aria-labelledby="workflow-title">
      <p><a href="#/">← All workflows</a></p>
      <h1 id="workflow-title">Workflow <code>{id}</code></h1>
      {w !== undefined && (
        <dl class="facts">
          <dt>Type</dt><dd>{w.type}</dd>
          <dt>State</dt><dd><WorkflowState info={stream.resources === undefined ? w : { ...w, resident: undefined }} testId="state" /></dd>
          {w.aliases.length > 0 && (<><dt>Alias</dt><dd>{w.aliases.join(', ')}</dd></>)}
          <dt>Started</dt><dd>{formatTime(w.startedAt)}</dd>
          <dt>Finished</dt><dd>{formatTime(w.finishedAt)}</dd>
          <dt>Duration</dt><dd>{formatDuration((w.finishedAt ?? Date.now()) - w.startedAt)}</dd>
          {w.error !== undefined && (<><dt>Why</dt><dd class="error">{w.error}</dd></>)}
        </dl>
      )}
      {info.error !== null && <p role="alert" class="error">{info.error}</p>}
      {session.admin && <AdminActions session={session} id={id} finished={finished} onDone={() => info.reload()} />}
      <Outcome stream={stream} />
      <div class="columns">
        <ResourcesPanel session={session} workflowId={id} stream={stream} />
        {session.admin && (
          <div>
            {history.error !== null && <p role="alert" class="error">{history.error}</p>}
            {history.value !== undefined && <HistoryTimeline history={history.value} />}
          </div>
        )}
      </div>
    </article>
  );
}
