/**
 * The records of a history that a workflow call would claim on replay, kept so that a superseded change can
 * be removed safely (see Forgetting.supersede).
 *
 * On replay, workflow code runs only when a call claims its record: between two records that replay applies by
 * itself (outside events, changes made inside completed steps) no code runs and observes a resource. So an
 * older state `set` can leave the history once a newer one is recorded, if no claimable record lies between the
 * two. Answering "is there one between a and b" needs the claimable records in order, which this keeps.
 *
 * Tracking starts lazily, at the first change that may be superseded later, so a workflow that never sets a
 * state pays nothing: only windows that start at such a change are ever asked about.
 */
export class ClaimableRecords {
  /** Seqs in ascending order (records are numbered in the order they are written or loaded). */
  private readonly seqs: number[] = [];
  private tracking = false;

  /** True once a change that may be superseded has been written: from then on claimable records are kept. */
  get active(): boolean {
    return this.tracking;
  }

  start(): void {
    this.tracking = true;
  }

  /** A claimable record was written or loaded (seqs must come in ascending order). */
  add(seq: number): void {
    if (this.tracking) this.seqs.push(seq);
  }

  /** Records left the history or will be applied by replay itself: nobody claims them any more. */
  delete(seqs: readonly number[]): void {
    if (!this.tracking || seqs.length === 0 || this.seqs.length === 0) return;
    if (seqs.length === 1) {
      const at = this.lowerBound(seqs[0] as number);
      if (this.seqs[at] === seqs[0]) this.seqs.splice(at, 1);
      return;
    }
    // Removals are nearly always at the tail (a step's own records): compact from the smallest one on.
    const gone = new Set(seqs);
    let smallest = Infinity;
    for (const seq of seqs) if (seq < smallest) smallest = seq;
    let from = this.lowerBound(smallest);
    for (let read = from; read < this.seqs.length; read++) {
      const seq = this.seqs[read] as number;
      if (!gone.has(seq)) this.seqs[from++] = seq;
    }
    this.seqs.length = from;
  }

  /** Is a claimable record strictly between `low` and `high`? */
  anyBetween(low: number, high: number): boolean {
    const at = this.lowerBound(low + 1);
    return at < this.seqs.length && (this.seqs[at] as number) < high;
  }

  /** Index of the first seq ≥ `seq`. */
  private lowerBound(seq: number): number {
    let low = 0;
    let high = this.seqs.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.seqs[middle] as number) < seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
