import type { Clock } from './clock.nodejs';

export interface RateLimit {
  /** Requests allowed per window. */
  max: number;
  windowSeconds: number;
}

/**
 * Sliding-log limiter per caller. The verify endpoint is a decryption oracle (a Bleichenbacher
 * oracle for PKCS#1 v1.5), so there every request counts; sign-in counts only failures, so a
 * test suite that signs in often is never throttled while password guessing is.
 */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {}

  private recent(caller: string, now: number): number[] {
    const log = (this.hits.get(caller) ?? []).filter((t) => t > now - this.limit.windowSeconds * 1000);
    this.hits.set(caller, log);
    return log;
  }

  /** 0 when the caller may go ahead, else the seconds until the oldest counted hit leaves the window. */
  check(caller: string): number {
    const now = this.clock();
    const log = this.recent(caller, now);
    if (log.length < this.limit.max) return 0;
    return Math.max(1, Math.ceil((log[0]! + this.limit.windowSeconds * 1000 - now) / 1000));
  }

  record(caller: string): void {
    const now = this.clock();
    this.recent(caller, now).push(now);
  }

  /** check, and count the attempt when it is allowed. */
  take(caller: string): number {
    const wait = this.check(caller);
    if (wait === 0) this.record(caller);
    return wait;
  }
}
