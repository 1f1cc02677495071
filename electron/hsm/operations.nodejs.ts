import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventBus } from '../core/registry.nodejs';
import type { CallOptions, CallProgress } from './client.nodejs';
import { systemTimers, type ClientTimers } from './timers.std';

/**
 * Which operation each token call belongs to, so main can say which one is waiting on the token
 * and cancel it. An operation is one registry call (its id: the renderer's `operationId`, else
 * the call id); the token calls its handler makes, however deep, are found through
 * AsyncLocalStorage instead of an id passed down every service.
 */

export interface TokenWait {
  /** The `progress` id of the operation, or null for a call made outside any (a timer's). */
  operationId: string | null;
  /** The channel that started the operation (`lifecycle.rotate`, `console.batchStart`). */
  channel: string | null;
  /** The host method the token is not answering. */
  method: string;
  waitingMs: number;
}

interface Scope {
  operationId: string;
  channel: string;
  cancel: AbortController;
}

interface Waiting {
  scope: Scope | undefined;
  method: string;
  since: number;
}

export class TokenOperations {
  private readonly storage = new AsyncLocalStorage<Scope>();
  private readonly scopes = new Set<Scope>();
  private readonly waits = new Set<Waiting>();

  constructor(
    private readonly events: EventBus,
    private readonly timers: Pick<ClientTimers, 'now'> = systemTimers,
  ) {}

  /** Runs one operation; token calls made inside it are its calls. */
  run<T>(operationId: string, channel: string, fn: () => Promise<T>): Promise<T> {
    const scope: Scope = { operationId, channel, cancel: new AbortController() };
    this.scopes.add(scope);
    return this.storage.run(scope, fn).finally(() => this.scopes.delete(scope));
  }

  /**
   * Cancels the running operations with this id: their calls the token is not answering are
   * abandoned now (and the ones that stop answering later). Whether the operation itself stops
   * between token calls is its own business (a batch checks its signal, a rotation's journal
   * resumes). True when such an operation was running.
   */
  cancel(operationId: string): boolean {
    let found = false;
    // The cancel call runs as an operation of the same id itself.
    const own = this.storage.getStore();
    for (const scope of this.scopes) {
      if (scope.operationId !== operationId || scope === own) continue;
      found = true;
      scope.cancel.abort();
    }
    return found;
  }

  /** The calls waiting on the token now, longest first (for the status). */
  waiting(): TokenWait[] {
    const now = this.timers.now();
    return [...this.waits]
      .map((w) => ({
        operationId: w.scope?.operationId ?? null,
        channel: w.scope?.channel ?? null,
        method: w.method,
        waitingMs: Math.max(0, now - w.since),
      }))
      .sort((a, b) => b.waitingMs - a.waitingMs);
  }

  /**
   * The options one host call goes out with: the operation's cancel signal, and a progress
   * listener that turns `waiting`/`waited` into the operation's `progress` events and the status.
   * The caller's own listener does not hear the host's heartbeats while the token is not
   * answering, so its "still working" message does not cover "waiting on the token".
   */
  callOptions(method: string, options: CallOptions | undefined): CallOptions {
    const scope = this.storage.getStore();
    const own = options?.onProgress;
    let wait: Waiting | undefined;
    const onProgress = (p: CallProgress) => {
      if (p.phase === 'waiting') {
        if (!wait) this.waits.add((wait = { scope, method, since: this.timers.now() - p.elapsedMs }));
        this.emit(scope, 'waiting', waitingMessage(method, p.elapsedMs));
      } else if (p.phase === 'waited') {
        if (wait) this.waits.delete(wait);
        wait = undefined;
        if (p.answered) this.emit(scope, 'answered', answeredMessage(p.elapsedMs));
      } else if (!wait) own?.(p);
    };
    const signal = options?.signal ?? scope?.cancel.signal;
    return { ...options, onProgress, ...(signal ? { signal } : {}) };
  }

  private emit(scope: Scope | undefined, phase: string, message: string): void {
    if (!scope) return;
    this.events.emit('progress', { operationId: scope.operationId, phase, fraction: null, message });
  }
}

/** The `progress` phases this file adds to an operation's own. */
export const TOKEN_WAIT_PHASES: readonly string[] = ['waiting', 'answered'];

export function waitingMessage(method: string, elapsedMs: number): string {
  return `Waiting on the token: no answer to ${method} for ${Math.floor(elapsedMs / 1000)} s. Cancel to give up (the token connection is then restarted).`;
}

function answeredMessage(elapsedMs: number): string {
  return `The token answered after ${Math.floor(elapsedMs / 1000)} s; continuing…`;
}
