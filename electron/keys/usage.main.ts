/**
 * Use counts per key version, kept in memory and written in batches: an encryption must not
 * cost a disk write. `flush` hands the pending counts to a sink (the inventory) in one write;
 * the owner flushes on a timer, when `maxPending` uses are waiting, and on close. A crash loses
 * at most the counts since the last flush, which only ever makes the max-uses policy fire late
 * by that many uses; the timer keeps the window short.
 */
export class UsageCounter {
  private pending = new Map<string, number>();
  private pendingTotal = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly sink: (counts: ReadonlyMap<string, number>) => void,
    private readonly options: { flushMs: number; maxPending: number; onError?: (error: unknown) => void },
  ) {
    if (options.flushMs > 0) {
      this.timer = setInterval(() => this.flushQuietly(), options.flushMs);
      this.timer.unref();
    }
  }

  record(versionId: string, uses = 1): void {
    this.pending.set(versionId, (this.pending.get(versionId) ?? 0) + uses);
    this.pendingTotal += uses;
    if (this.pendingTotal >= this.options.maxPending) this.flushQuietly();
  }

  /** Uses not written yet. */
  pendingFor(versionId: string): number {
    return this.pending.get(versionId) ?? 0;
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const counts = this.pending;
    this.pending = new Map();
    this.pendingTotal = 0;
    try {
      this.sink(counts);
    } catch (error) {
      // Put them back: a failed write must not lose counts.
      for (const [id, n] of counts) this.pending.set(id, (this.pending.get(id) ?? 0) + n);
      this.pendingTotal += [...counts.values()].reduce((a, b) => a + b, 0);
      throw error;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private flushQuietly(): void {
    try {
      this.flush();
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}
