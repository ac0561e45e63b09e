/**
 * The workflow list: counts by state, filters (state, type, id search), one server-side page at a time (by the
 * server's cursor when it gives one, `next`: a page then stays anchored while workflows start; else by offset), and
 * live updates by polling the `workflows` operation every 2 s while the tab is visible. Polling, not a
 * stream: the list changes wherever any workflow changes, the server has no manager-wide change feed, and
 * one small page every 2 s costs less than pushing every change of 100,000 workflows to every open tab.
 */
import { useState } from 'preact/hooks';
import { WIRE_STATUSES, type WireStatus } from '../../protocol/inspect.js';
import type { Session } from './api.js';
import { formatCount, formatDuration, formatTime } from './format.js';
import { usePolled } from './hooks.js';
import { OpenById } from './open-by-id.js';
import { WorkflowState } from './workflow-state.js';

const PAGE = 50;
export const LIST_POLL_MS = 2000;

export function WorkflowList({ session }: { session: Session }) {
  const [status, setStatus] = useState<WireStatus | ''>('');
  const [type, setType] = useState('');
  const [search, setSearch] = useState('');
  // Page `index` starts after `cursors[index]` (undefined: by offset alone); the offset is sent too, for servers
  // that page by offset (and for "51–100 of N").
  const [{ index, cursors }, setPages] = useState<{ index: number; cursors: (string | undefined)[] }>({ index: 0, cursors: [undefined] });
  const offset = index * PAGE;
  const after = cursors[index];
  const page = usePolled(
    () =>
      session.admin
        ? session.client.workflows({ ...(status === '' ? {} : { status }), ...(type === '' ? {} : { type }), search, offset, limit: PAGE, ...(after === undefined ? {} : { after }) })
        : Promise.resolve(undefined),
    [status, type, search, offset, after],
    session.admin ? LIST_POLL_MS : undefined,
  );
  if (!session.admin) {
    return (
      <section aria-labelledby="list-title">
        <h1 id="list-title">Workflows</h1>
        <p>Listing workflows needs the admin role. Open a workflow you know by its id or alias:</p>
        <OpenById />
      </section>
    );
  }
  const data = page.value;
  const filter = (change: () => void): void => {
    change();
    setPages({ index: 0, cursors: [undefined] });
  };
  const hasNext = data !== undefined && (data.next !== undefined || offset + PAGE < data.total);
  const goNext = (): void => {
    if (data === undefined) return;
    setPages({ index: index + 1, cursors: [...cursors.slice(0, index + 1), data.next] });
  };
  return (
    <section aria-labelledby="list-title">
      <h1 id="list-title">Workflows</h1>
      <ul class="counts" aria-label="Workflows by state">
        {WIRE_STATUSES.map((s) => (
          <li key={s}>
            <button type="button" class={`count state-${s}`} aria-pressed={status === s} onClick={() => filter(() => setStatus(status === s ? '' : s))}>
              <span class="n" data-testid={`count-${s}`}>{data === undefined ? '…' : formatCount(data.counts[s])}</span> {s}
            </button>
          </li>
        ))}
      </ul>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select value={status} onChange={(e) => filter(() => setStatus(e.currentTarget.value as WireStatus | ''))}>
            <option value="">any</option>
            {WIRE_STATUSES.map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select value={type} onChange={(e) => filter(() => setType(e.currentTarget.value))}>
            <option value="">any</option>
            {(data?.types ?? []).map((t) => (
              <option key={t} value={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Search by id
          <input type="search" value={search} placeholder="id or alias" onInput={(e) => filter(() => setSearch(e.currentTarget.value))} />
        </label>
      </form>
      {page.error !== null && <p role="alert" class="error">{page.error}</p>}
      <div class="table-wrap">
        <table class="workflows">
          <caption class="sr-only">Workflows, newest first</caption>
          <thead>
            <tr><th scope="col">Id</th><th scope="col">Type</th><th scope="col">State</th><th scope="col">Alias</th><th scope="col">Started</th><th scope="col">Finished</th><th scope="col">Duration</th></tr>
          </thead>
          <tbody>
            {(data?.items ?? []).map((w) => (
              <tr key={w.id} data-id={w.id}>
                <td><a href={`#/w/${encodeURIComponent(w.id)}`}>{w.id}</a></td>
                <td>{w.type}</td>
                <td><WorkflowState info={w} /></td>
                <td>{w.aliases.join(', ')}</td>
                <td>{formatTime(w.startedAt)}</td>
                <td>{formatTime(w.finishedAt)}</td>
                <td>{formatDuration((w.finishedAt ?? data?.at ?? Date.now()) - w.startedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {data !== undefined && (
        <nav class="pager" aria-label="Pages">
          <button type="button" disabled={index === 0} onClick={() => setPages({ index: index - 1, cursors })}>Previous</button>
          <span data-testid="page-range">
            {data.total === 0 ? 'No workflows match' : `${formatCount(offset + 1)}–${formatCount(offset + data.items.length)} of ${formatCount(data.total)}`}
          </span>
          <button type="button" disabled={!hasNext} onClick={goNext}>Next</button>
        </nav>
      )}
    </section>
  );
}
