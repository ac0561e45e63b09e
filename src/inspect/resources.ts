/**
 * The resources a stored history says are open, and their content, rebuilt without the workflow's code: the
 * open and close records say which resources exist, and re-applying the recorded events (outside and
 * workflow-side, in history order) to fresh resource states (src/core/resources.ts) gives their content.
 * This is what replay does for the resources, minus the workflow: `quest resources` shows it.
 *
 * It is exact for the history as stored. A workflow running in some process may hold a few records it has
 * not written yet (workflow-side records are written with the next durable write, or once the workflow waits
 * for the outside; outside events are durable before `act` returns), so the view of a workflow busy between
 * two durable writes can lag behind that process by those; that of a waiting workflow does not.
 */
import type { ResourceState } from '../core/resources.js';
import { WOULD_BLOCK, createResourceState, isVisible } from '../core/resources.js';

// The kinds and the visibility rule live in core; re-exported for the inspection tools that used them here.
export { actionSpec, actionsOf, createResourceState, findVisible, isVisible } from '../core/resources.js';
import { resourceLabel, type HistoryRecord } from '../core/records.js';
import { resourceMapKey } from '../core/open-resource.js';
import type { ResourceInfo } from '../core/resource-stream.js';
import { deserialize, type Json } from '../core/serializer.js';

/** One resource open at the end of a history, with its content. */
export interface RebuiltResource extends ResourceInfo {
  /** Seq of the record that opened it. */
  openSeq: number;
  /** Op id of the call that opened it. */
  openId: string;
}

/** What {@link rebuildResources} found: the open resources in the order they were opened, and oddities. */
export interface RebuiltResources {
  resources: RebuiltResource[];
  /**
   * Records that could not be applied (an event on a resource that is not open, an unknown resource kind,
   * an action that would wait, arguments of an unregistered type). Replay would stop on most of these with
   * NonDeterminismError; here they are skipped and reported.
   */
  warnings: string[];
}

/**
 * Rebuild every resource open at the end of `records` (already upgraded, in seq order) with its content.
 *
 * @example
 * const { resources } = rebuildResources((await store.history('g1').load()).map(upgradeRecord));
 */
export function rebuildResources(records: readonly HistoryRecord[]): RebuiltResources {
  const open = new Map<string, { resource: RebuiltResource; state: ResourceState | undefined }>();
  const warnings: string[] = [];
  for (const record of records) {
    switch (record.type) {
      case 'resource_open': {
        const key = resourceMapKey(record.resource.name, record.resource.identity);
        let init: unknown;
        try {
          init = record.init === undefined ? undefined : deserialize(record.init);
        } catch (error) {
          init = record.init;
          warnings.push(`record ${record.seq}: the initial value of ${resourceLabel(record.resource)} cannot be read (${messageOf(error)}); shown as stored`);
        }
        const state = createResourceState(record.kind, init);
        if (state === undefined) warnings.push(`record ${record.seq}: ${resourceLabel(record.resource)} is of kind ${JSON.stringify(record.kind)}, which this Quest does not know`);
        if (open.has(key)) warnings.push(`record ${record.seq}: ${resourceLabel(record.resource)} is opened again without being closed`);
        // Delete first, so that the map keeps the order of the opens.
        open.delete(key);
        open.set(key, {
          resource: { name: record.resource.name, identity: record.resource.identity, kind: record.kind, view: null, openSeq: record.seq, openId: record.id },
          state,
        });
        break;
      }
      case 'resource_close':
        if (!open.delete(resourceMapKey(record.resource.name, record.resource.identity))) warnings.push(`record ${record.seq}: close of ${resourceLabel(record.resource)}, which is not open`);
        break;
      case 'internal':
      case 'external': {
        const entry = open.get(resourceMapKey(record.resource.name, record.resource.identity));
        if (entry === undefined) {
          warnings.push(`record ${record.seq}: ${record.action} on ${resourceLabel(record.resource)}, which is not open`);
          break;
        }
        if (entry.state === undefined) break;
        const args = record.args.map((arg) => readArg(arg, record.seq, warnings));
        let value: unknown;
        try {
          value = entry.state.perform(record.action, args, { seq: record.seq, origin: undefined });
        } catch (error) {
          warnings.push(`record ${record.seq}: ${record.action} on ${resourceLabel(record.resource)} failed: ${messageOf(error)}`);
          break;
        }
        // A wait that was recorded because it completed can only block here if the history is inconsistent;
        // an event's `wait` is not a change, so it may legitimately find the flag cleared again.
        if (value === WOULD_BLOCK && entry.state.actions[record.action]?.mutates === true) {
          warnings.push(`record ${record.seq}: ${record.action} on ${resourceLabel(record.resource)} would wait; skipped`);
        }
        break;
      }
      default:
        break;
    }
  }
  const resources = [...open.values()].map(({ resource, state }) => ({ ...resource, view: viewOf(state) }));
  return { resources, warnings };
}

/**
 * The resources open at the end of `records` that `identity` can see: the public ones and, when `identity`
 * is not null, its own (never another identity's).
 *
 * @example
 * visibleResources(records, 'ann');   // public resources and ann's
 */
export function visibleResources(records: readonly HistoryRecord[], identity: string | null): RebuiltResource[] {
  return rebuildResources(records).resources.filter((resource) => isVisible(resource, identity));
}

function viewOf(state: ResourceState | undefined): Json {
  if (state === undefined) return null;
  try {
    return state.view();
  } catch (error) {
    return `(cannot show: ${messageOf(error)})`;
  }
}

function readArg(arg: Json, seq: number, warnings: string[]): unknown {
  try {
    return deserialize(arg);
  } catch (error) {
    warnings.push(`record ${seq}: an argument cannot be read (${messageOf(error)}); shown as stored`);
    return arg;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
