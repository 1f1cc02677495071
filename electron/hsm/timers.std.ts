/** The clock and timers the client uses, injectable so unit tests can drive time. */
export interface ClientTimers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Looks the globals up at each call, so test fake timers installed after the client was built
 * still apply.
 */
export const systemTimers: ClientTimers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
};

/** Background timers (polling, idle logout) must not keep a CLI process alive on their own. */
export function unrefTimer(handle: unknown): void {
  (handle as { unref?: () => void } | null)?.unref?.();
}
