import type { Clock } from './clock.main';

export interface RateLimit {
  /** Requests allowed per window. */
  max: number;
  windowSeconds: number;
}

/**
 * Sliding-log limiter per caller. The verify endpoint is a decryption oracle (a Bleichenbacher
 * oracle for PKCS#1 v1.5), so every request counts, successful or not.
 */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {}

  /** Records the attempt; returns 0 when allowed, else the seconds until the next slot frees. */
  take(caller: string): number {
    const now = this.clock();
    const windowMs = this.limit.windowSeconds * 1000;
    const log = (this.hits.get(caller) ?? []).filter((t) => t > now - windowMs);
    if (log.length >= this.limit.max) {
      this.hits.set(caller, log);
      return Math.max(1, Math.ceil((log[0]! + windowMs - now) / 1000));
    }
    log.push(now);
    this.hits.set(caller, log);
    return 0;
  }
}
