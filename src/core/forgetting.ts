/**
 * Forgetting: which records leave the history, and when.
 *
 * Every record a step (or loop iteration) writes belongs to that step's frame and is removed when the step
 * completes, in the same commit as its end record. Three kinds of records outlive the step that wrote them:
 * - a change on a resource opened outside the step: it lives as long as the resource, and once the step has
 *   completed replay applies it by itself (nobody calls it again);
 * - a take (queue get) whose item was put by code that will replay: it must stay with that put;
 * - a close of a resource opened outside the step (it names the step: `by`).
 * A state set (ActionSpec.supersedes) also removes the record of the previous one when no code can observe
 * the difference on replay (see supersede). The run applies what this module decides: it writes and removes.
 */
import { ClaimableRecords } from './claimable.js';
import type { StepFrame } from './context.js';
import { CLAIMED_TYPES, type HistoryRecord, type RecordType } from './records.js';
import type { OpenResource } from './open-resource.js';

export class Forgetting {
  private readonly claimable = new ClaimableRecords();

  /** A record was written. */
  recorded(seq: number, type: RecordType): void {
    if (this.claimable.active && CLAIMED_TYPES.has(type)) this.claimable.add(seq);
  }

  /** Replay starts from `records`; `isApplied` tells those that replay applies itself (nobody claims them). */
  loaded(records: readonly HistoryRecord[], isApplied: (record: HistoryRecord) => boolean): void {
    // A replayed change may supersede an older one: know which loaded records are claimed.
    this.claimable.start();
    for (const record of records) if (!isApplied(record)) this.claimable.add(record.seq);
  }

  /** Records left the history. */
  removed(seqs: readonly number[]): void {
    this.claimable.delete(seqs);
  }

  /**
   * A workflow-side action on `resource` was recorded at `seq` by code in `scopeFrame`. Returns the records
   * it makes obsolete (a top-level state set replacing the previous one).
   */
  actionRecorded(scopeFrame: StepFrame | null, resource: OpenResource, action: string, seq: number): number[] {
    const spec = resource.state.actions[action];
    // A change lives as long as the resource; a take or a wait lives with the step that made it.
    const owner = spec !== undefined && spec.mutates && spec.consumes !== true ? resource.frame : scopeFrame;
    this.own(resource, action, owner, seq);
    const supersedes = spec?.supersedes === true;
    if (scopeFrame === null) return supersedes ? this.supersede(resource, seq, false) : [];
    if (owner !== scopeFrame) {
      // From here on a window starting at this change may be asked about: know the claimable records.
      if (supersedes) this.claimable.start();
      (scopeFrame.outlived ??= []).push({ seq, superseding: supersedes ? resource : undefined });
    }
    return [];
  }

  /** An outside caller's change was recorded at `seq`. Returns the records it makes obsolete. */
  outsideChange(resource: OpenResource, action: string, seq: number): number[] {
    if (resource.state.actions[action]?.supersedes !== true) return [];
    this.claimable.start();
    return this.supersede(resource, seq, true);
  }

  /**
   * Replay applied the recorded event at `seq` by itself (an outside event, a change made in a completed
   * step). Returns the records it makes obsolete.
   */
  eventReplayed(resource: OpenResource, action: string, seq: number): number[] {
    this.own(resource, action, resource.frame, seq);
    return resource.state.actions[action]?.supersedes === true ? this.supersede(resource, seq, true) : [];
  }

  /** A resource opened outside `closingFrame` was closed from it; the close record is `seq`. */
  closedFromNestedScope(closingFrame: StepFrame | null, seq: number): void {
    if (closingFrame !== null) (closingFrame.outlived ??= []).push({ seq, superseding: undefined });
  }

  /**
   * A step ends (completed or cancelled): the records to remove with it. A take leaves the history together
   * with the record that put its item when nobody would claim that record on replay any more (an outside
   * event, or a put made inside a step that has ended): replay then sees neither. Otherwise the take is kept,
   * as the put is, and replayed from the history; an enclosing step reconsiders it when it ends.
   */
  closeFrame(frame: StepFrame): number[] {
    frame.ended = true;
    const remove = frame.seqs;
    for (const take of frame.takes) {
      const origin = take.taken?.origin;
      if (take.taken !== undefined && (origin === undefined || origin?.ended === true)) {
        remove.push(take.seq, take.taken.seq);
      } else if (take.resource.closed && take.resource.frame !== null) {
        remove.push(take.seq);
      } else if (frame.parent !== null) {
        frame.parent.takes.push(take);
      } else {
        take.resource.frame?.seqs.push(take.seq);
      }
    }
    return remove;
  }

  /**
   * A step or loop iteration completed: the records to remove with its end record. Besides its own records
   * (closeFrame), these are the older changes that its changes on outer resources supersede. From now on
   * replay applies those changes, and the takes it hands on, by itself: nobody claims them any more.
   */
  completeFrame(frame: StepFrame): number[] {
    const remove = this.closeFrame(frame);
    if (!this.claimable.active) return remove;
    this.claimable.delete(remove);
    const outlived = frame.outlived ?? [];
    const removed = frame.takes.length === 0 ? undefined : new Set(remove);
    const handedOn = removed === undefined ? [] : frame.takes.map((take) => take.seq).filter((seq) => !removed.has(seq));
    this.claimable.delete([...outlived.map((record) => record.seq), ...handedOn]);
    for (const { seq, superseding } of outlived) {
      if (superseding !== undefined && !superseding.closed) remove.push(...this.supersede(superseding, seq, true));
    }
    return remove;
  }

  /**
   * Put record `seq` under `frame` for pruning. A take (queue get) is decided when its step ends, together
   * with the record that put the item (see closeFrame).
   */
  private own(resource: OpenResource, action: string, frame: StepFrame | null, seq: number): void {
    if (frame === null) return;
    if (resource.state.actions[action]?.consumes === true) frame.takes.push({ seq, resource, taken: resource.state.taken });
    else frame.seqs.push(seq);
  }

  /**
   * A superseding change on `resource` was recorded at `seq` (`applied`: replay applies it by itself, rather
   * than a call claiming it). The older of it and the resource's previous applied change is obsolete if no
   * claimable record lies between the two: on replay no code runs in between, so none can observe the
   * resource's state there. Returns the record to remove, if any.
   */
  private supersede(resource: OpenResource, seq: number, applied: boolean): number[] {
    const previous = resource.lastChange;
    const newer = previous === undefined ? seq : Math.max(previous, seq);
    resource.lastChange = newer === seq && !applied ? undefined : newer;
    if (previous === undefined || previous === seq) return [];
    const older = Math.min(previous, seq);
    if (this.claimable.anyBetween(older, newer)) return [];
    const owner = resource.frame?.seqs;
    const at = owner === undefined ? -1 : owner.lastIndexOf(older);
    if (at >= 0) owner?.splice(at, 1);
    return [older];
  }
}
