/**
 * Opening and closing the resources of a run: recorded when the workflow runs live, claimed from its history
 * on replay. The run keeps the open ones and accounts for them (Run.resources, Run.changed, Run.forgetResource).
 */
import type { WorkflowContext } from './context.js';
import { DuplicateResourceError } from './errors.js';
import { OpenResource, checkResourceName, resourceMapKey } from './open-resource.js';
import type { ResourceKey } from './records.js';
import type { ResourceState } from './resources.js';
import type { Run } from './run.js';
import { serialize } from './serializer.js';
import { TaskState } from './task-state.js';

/** Open a resource of `run` for the calling scope; DuplicateResourceError if one of that name and identity is open. */
export async function openResource(
  run: Run,
  context: WorkflowContext,
  kind: string,
  name: string,
  identity: string | null,
  state: ResourceState,
  init?: unknown,
): Promise<OpenResource> {
  checkResourceName(name, identity);
  const mapKey = resourceMapKey(name, identity);
  if (run.resources.has(mapKey)) throw new DuplicateResourceError(name, identity);
  const id = context.scope.nextId(`${kind}:${name}`);
  const key: ResourceKey = { name, identity };
  const recorded = await run.claimOrLive(context, 'resource_open', id, `open ${kind} ${name} (${id})`);
  if (run.resources.has(mapKey)) throw new DuplicateResourceError(name, identity);
  const frame = context.scope.frame;
  if (recorded === null) {
    // Two literals rather than a spread plus a field: V8 builds the latter slowly (see endedEntry).
    const record = init === undefined
      ? { type: 'resource_open' as const, id, resource: key, kind }
      : { type: 'resource_open' as const, id, resource: key, kind, init: serialize(init, `initial value of ${name}`) };
    run.write(context.task.id, frame, record);
  } else {
    frame?.seqs.push(recorded.seq);
  }
  const resource = new OpenResource(key, state, id, frame);
  run.resources.set(mapKey, resource);
  run.changed(resource, 'open');
  return resource;
}

/** Close a resource of `run` (recorded). During suspension it is only forgotten: nothing more is recorded. */
export async function closeResource(run: Run, context: WorkflowContext, resource: OpenResource): Promise<void> {
  if (resource.closed) return;
  if (run.stopReason === undefined) {
    // A cancelled task still closes what it opened (an `await using` disposal), live and on replay alike:
    // claim under a stand-in that is not cancelled, or replay would consume the close record, throw
    // TaskCancelledError and leave the resource open.
    const closer = context.task.stopReason === undefined ? context : { ...context, task: new TaskState(context.task.id, null) };
    const recorded = await run.claimOrLive(closer, 'resource_close', resource.openId, `close ${resource.key.name}`);
    // Closed from a nested scope (a loop iteration): the close is kept with the resource, but once that
    // scope completes nobody calls close() on replay; `by` tells replay to apply it (see Replay.isApplied).
    const closingFrame = context.scope.frame;
    const nested = closingFrame !== resource.frame;
    if (recorded === null) {
      const record = nested
        ? { type: 'resource_close' as const, id: resource.openId, resource: resource.key, by: context.scope.path }
        : { type: 'resource_close' as const, id: resource.openId, resource: resource.key };
      run.write(context.task.id, resource.frame, record);
    } else {
      resource.frame?.seqs.push(recorded.seq);
    }
    if (nested) run.forgetting.closedFromNestedScope(closingFrame, recorded?.seq ?? run.lastSeq);
  }
  run.forgetResource(resource);
}
