/**
 * A workflow's state as the list and the workflow view show it: a badge, and for a running workflow the
 * server has evicted from memory while idle, that fact in words. Eviction is a property of the server's
 * memory, not of the workflow's progress: it resumes by replay as soon as something needs it (opening its
 * view does, through the resource stream).
 */
import type { WireWorkflowInfo } from '../../protocol/messages.js';

/** What the dashboard says of an evicted workflow, after its state. */
export const EVICTED_TEXT = 'evicted, resumes on demand';

const EVICTED_TITLE = "Idle: its run was dropped from the server's memory (its history is stored). It resumes by replay when an event, a timer or a reader needs it.";

export function WorkflowState({ info, testId }: { info: Pick<WireWorkflowInfo, 'status' | 'resident'>; testId?: string }) {
  return (
    <>
      <span class={`badge state-${info.status}`} data-testid={testId}>{info.status}</span>
      {info.resident === false && (
        <span class="residency" data-testid="residency" title={EVICTED_TITLE}> · {EVICTED_TEXT}</span>
      )}
    </>
  );
}
