/**
 * The form that sends an event to a resource, built from the actions of the resource's kind (core's table:
 * a queue offers put and size, a state get and set, an event set, clear and isSet). Blocking actions (a
 * queue's get, an event's wait) are left out: from a page they would hang until the workflow acts.
 * Arguments are read as JSON when they parse (42, "text", {"a": 1}), else as plain text.
 */
import { useState } from 'preact/hooks';
import { actionsOf } from '../../core/resources.js';
import type { ResourceInfo } from '../../core/resource-stream.js';
import { errorText, type Session } from './api.js';

/** The actions an outside caller can send from the page, mutating ones first. */
export function formActions(kind: string): { name: string; arity: number }[] {
  return Object.entries(actionsOf(kind))
    .filter(([, spec]) => !spec.blocking)
    .sort(([, a], [, b]) => Number(b.mutates) - Number(a.mutates))
    .map(([name, spec]) => ({ name, arity: spec.arity }));
}

/** An argument as typed: JSON when it parses, else the text itself. */
export function parseArgument(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function ActForm(props: { session: Session; workflowId: string; resource: ResourceInfo }) {
  const actions = formActions(props.resource.kind);
  const [action, setAction] = useState(actions[0]?.name ?? '');
  const [arg, setArg] = useState('');
  const [answer, setAnswer] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  if (actions.length === 0) return null;
  const arity = actions.find((a) => a.name === action)?.arity ?? 0;
  const base = `act-${props.resource.name}-${props.resource.identity ?? 'public'}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const send = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setAnswer(null);
    try {
      const args = arity > 0 ? [parseArgument(arg)] : [];
      const value = await props.session.client.act(props.workflowId, props.resource.name, null, action, ...args);
      setAnswer({ ok: true, text: `${action} → ${value === undefined ? 'done' : JSON.stringify(value)}` });
      if (arity > 0) setArg('');
    } catch (failure) {
      setAnswer({ ok: false, text: errorText(failure) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="act" onSubmit={send} aria-label={`Send to ${props.resource.name}`}>
      <label for={`${base}-action`}>Action</label>
      <select id={`${base}-action`} value={action} onChange={(e) => setAction(e.currentTarget.value)}>
        {actions.map((a) => (
          <option key={a.name} value={a.name}>{a.name}</option>
        ))}
      </select>
      {arity > 0 && (
        <>
          <label for={`${base}-arg`}>Value</label>
          <input id={`${base}-arg`} value={arg} onInput={(e) => setArg(e.currentTarget.value)} placeholder='42, "text" or {"a": 1}' />
        </>
      )}
      <button type="submit" disabled={busy}>Send</button>
      {answer !== null && (
        <p role={answer.ok ? 'status' : 'alert'} class={answer.ok ? 'ok' : 'error'}>{answer.text}</p>
      )}
    </form>
  );
}
