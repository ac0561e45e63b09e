/**
 * How a Historian's resource streams follow its runs (see Historian.resourceStream): those opened while no run
 * was live wait for the next one; those that follow a run get a snapshot of what their identity sees at each
 * change, and end with that run.
 */
import { WorkflowSuspendedError } from './errors.js';
import type { OpenResource } from './open-resource.js';
import { isVisible } from './resources.js';
import type { ResourceInfo, ResourceStream } from './resource-stream.js';
import type { Run, ResourceChange } from './run.js';

/** The streams of a historian that never had one: empty and never added to (see ownStreamSets). */
export const NO_STREAMS: Set<ResourceStream> = new Set();

/**
 * The sets a historian's streams go in, made at its first stream: most workflows never have one, and two sets
 * less per run count when runs are many and short.
 */
export function ownStreamSets(following: Set<ResourceStream>, waiting: Set<ResourceStream>): [Set<ResourceStream>, Set<ResourceStream>] {
  return following === NO_STREAMS ? [new Set(), new Set()] : [following, waiting];
}

/** A run starts: the streams opened while no run was live (`waiting`) follow this one (join `following`). */
export function attachWaitingStreams(following: Set<ResourceStream>, waiting: Set<ResourceStream>): void {
  for (const stream of waiting) following.add(stream);
  waiting.clear();
}

/** The run ended: the streams that followed it end; if the workflow `finished`, so do those waiting for a next run. */
export function endRunStreams(following: ReadonlySet<ResourceStream>, waiting: ReadonlySet<ResourceStream>, finished: boolean): void {
  for (const stream of finished ? [...following, ...waiting] : [...following]) stream.end();
}

/**
 * Where a new stream goes: while a run is `live` it follows that run (`run` is undefined while it starts), with a
 * first snapshot at once if replay has caught up already; once the workflow has `finished` it ends at once;
 * otherwise it waits for the next run.
 */
export function placeStream(
  stream: ResourceStream,
  live: boolean,
  run: Run | undefined,
  finished: boolean,
  following: Set<ResourceStream>,
  waiting: Set<ResourceStream>,
): void {
  if (live) {
    following.add(stream);
    // While the run starts or replays, the first snapshot comes when replay has caught up (pushInitial).
    if (run !== undefined && run.replayIsDone) stream.push({ change: 'initial', resources: visibleResources(run, stream.identity) });
  } else if (finished) {
    stream.end();
  } else {
    waiting.add(stream);
  }
}

/** After replay: every stream gets the state it missed while the history was replayed. */
export function pushInitial(streams: ReadonlySet<ResourceStream>, run: Run): void {
  for (const stream of streams) stream.push({ change: 'initial', resources: visibleResources(run, stream.identity) });
}

/** `resource` of `run` changed: every stream whose identity can see it gets a snapshot. */
export function pushChange(streams: ReadonlySet<ResourceStream>, run: Run, resource: OpenResource, change: ResourceChange): void {
  for (const stream of streams) {
    if (!canSee(stream.identity, resource)) continue;
    stream.push({ change, resource: { ...resource.key }, resources: visibleResources(run, stream.identity) });
  }
}

/** The resources of `run` that `identity` can see, now. */
export function visibleResources(run: Run, identity: string | null): ResourceInfo[] {
  const visible: ResourceInfo[] = [];
  for (const resource of run.resources.values()) {
    if (canSee(identity, resource)) {
      visible.push({ name: resource.key.name, identity: resource.key.identity, kind: resource.state.kind, view: resource.state.view() });
    }
  }
  return visible;
}

function canSee(identity: string | null, resource: OpenResource): boolean {
  return isVisible(resource.key, identity);
}

/** The first time resource `name` shows in `stream` (which then ends); WorkflowSuspendedError if the stream ends first. */
export async function resourceSighted(stream: ResourceStream, name: string, workflowId: string): Promise<ResourceInfo> {
  try {
    for await (const snapshot of stream) {
      const found = snapshot.resources.find((resource) => resource.name === name);
      if (found !== undefined) return found;
    }
  } finally {
    stream.end();
  }
  throw new WorkflowSuspendedError(workflowId);
}
