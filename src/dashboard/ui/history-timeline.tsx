/**
 * A workflow's stored history as a timeline grouped by task (`main` is the workflow function), with the
 * ranges the workflow has forgotten shown where they were ("42 records forgotten"), loop checkpoints,
 * versions and configurations marked. Built on the CLI's view (src/inspect/history-view.ts).
 */
import { describeRecord, versionLabel, type HistoryRecord } from '../../core/records.js';
import { recordDetails, type HistoryItem, type PrunedGap } from '../../inspect/history-view.js';
import type { WireHistory } from '../../protocol/inspect.js';
import { formatCount, showValue } from './format.js';

/** Items by task, in order of each task's first record; a gap goes with the record that follows it. */
export function groupByTask(items: readonly HistoryItem[]): { task: string; items: HistoryItem[] }[] {
  const groups = new Map<string, HistoryItem[]>();
  let pending: PrunedGap[] = [];
  let last = 'main';
  for (const item of items) {
    if (item.type === 'pruned') {
      pending.push(item);
      continue;
    }
    last = item.task === '' ? 'outside' : item.task;
    const group = groups.get(last) ?? [];
    groups.set(last, group);
    group.push(...pending, item);
    pending = [];
  }
  if (pending.length > 0) groups.set(last, [...(groups.get(last) ?? []), ...pending]);
  return [...groups].map(([task, grouped]) => ({ task, items: grouped }));
}

function Gap({ gap }: { gap: PrunedGap }) {
  return (
    <li class="gap">
      {formatCount(gap.count)} record{gap.count === 1 ? '' : 's'} forgotten <span class="seq">(seq {gap.from === gap.to ? gap.from : `${gap.from}–${gap.to}`})</span>
    </li>
  );
}

function Record({ record }: { record: HistoryRecord }) {
  const failed = 'error' in record && record.error !== undefined;
  return (
    <li class={`record type-${record.type}${failed ? ' failed' : ''}`}>
      <span class="seq">#{record.seq}</span> <span class="what">{describeRecord(record)}</span>
      {recordDetails(record) !== '' && <span class="details">{recordDetails(record)}</span>}
    </li>
  );
}

export function HistoryTimeline({ history }: { history: WireHistory }) {
  const configs = history.items.filter((item): item is Extract<HistoryRecord, { type: 'config' }> => item.type === 'config');
  return (
    <section aria-labelledby="history-title" class="history">
      <h2 id="history-title">History</h2>
      <p class="summary" data-testid="history-summary">
        {formatCount(history.stored)} records stored, {formatCount(history.pruned)} forgotten
      </p>
      {history.versions.length > 0 && (
        <div class="versions">
          <h3>Versions</h3>
          <ul>
            {history.versions.map((v) => (
              <li key={`${v.fn}:${v.name}`}>
                <code>{versionLabel(v.fn, v.name)}</code> = {v.versions.map((value) => JSON.stringify(value)).join(', ')}
              </li>
            ))}
          </ul>
        </div>
      )}
      {configs.length > 0 && (
        <div class="configs">
          <h3>Configurations</h3>
          <ul>
            {configs.map((c) => (
              <li key={c.seq}>
                <code>{c.name}</code> {showValue(c.args)}
              </li>
            ))}
          </ul>
        </div>
      )}
      {groupByTask(history.items).map(({ task, items }) => (
        <div class="task" key={task}>
          <h3>Task <code>{task}</code></h3>
          <ol class="timeline">
            {items.map((item) => (item.type === 'pruned' ? <Gap key={`gap-${item.from}`} gap={item} /> : <Record key={item.seq} record={item} />))}
          </ol>
        </div>
      ))}
    </section>
  );
}
