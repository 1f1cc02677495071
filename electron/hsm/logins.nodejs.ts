import type { ErrorCode, MkmError } from '../../shared/errors.std';
import type { Logger } from '../core/logger.nodejs';
import type { SlotSummary } from '../../shared/tokens.std';
import { unrefTimer, type ClientTimers } from './timers.std';

export type SlotId = number;

export interface LoginTrackerDeps {
  timers: ClientTimers;
  logger: Logger;
  /** Logs out through the host without counting as user activity. */
  logout: (slotId: SlotId) => Promise<unknown>;
  onLoginRequired: (info: { slotIds: SlotId[]; reason: ErrorCode }) => void;
  onAutoLogout: (info: { slotIds: SlotId[]; idleMs: number }) => void;
}

// Errors after which the token no longer holds the login, whatever the client believed.
const SESSION_GONE: ReadonlySet<ErrorCode> = new Set([
  'NOT_LOGGED_IN',
  'SESSION_CLOSED',
  'TOKEN_REMOVED',
  'TOKEN_NOT_PRESENT',
]);

function slotIdOf(params: unknown): SlotId | undefined {
  const id = (params as { slotId?: unknown } | undefined)?.slotId;
  return typeof id === 'number' ? id : undefined;
}

/**
 * Which slots this client is logged in to, as far as it can tell from the calls it made, and
 * the idle timer that logs them out. Idle means no user call: slot polls and the timer's own
 * logouts do not count, or a watched token would never time out.
 */
export class LoginTracker {
  private readonly loggedIn = new Map<SlotId, SlotId>();
  private idleTimer: unknown;
  private lastActivity: number;
  private callsInFlight = 0;

  constructor(
    private readonly deps: LoginTrackerDeps,
    private idleMs: number,
  ) {
    this.lastActivity = deps.timers.now();
  }

  get slots(): SlotId[] {
    return [...this.loggedIn.values()];
  }

  setIdleMs(ms: number): void {
    this.idleMs = ms;
    this.arm();
  }

  callStarted(): void {
    this.callsInFlight++;
    this.touch();
  }

  callEnded(): void {
    this.callsInFlight--;
    this.touch();
  }

  succeeded(method: string, params: unknown): void {
    const slotId = slotIdOf(params);
    if (method === 'loadModule' || method === 'unloadModule') this.loggedIn.clear();
    else if (method === 'login' && slotId !== undefined) this.add(slotId);
    else if (method === 'logout' && slotId !== undefined) this.loggedIn.delete(slotId);
  }

  failed(method: string, params: unknown, error: MkmError): void {
    const slotId = slotIdOf(params);
    if (slotId === undefined) return;
    if (method === 'login' && error.code === 'ALREADY_LOGGED_IN') return this.add(slotId);
    if (!SESSION_GONE.has(error.code) || !this.loggedIn.delete(slotId)) return;
    if (method !== 'logout') this.deps.onLoginRequired({ slotIds: [slotId], reason: error.code });
  }

  /** The host is gone and its logins with it. Returns the slots that were logged in. */
  forgetAll(): SlotId[] {
    const slotIds = this.slots;
    this.loggedIn.clear();
    this.clearTimer();
    return slotIds;
  }

  /**
   * A token pulled out (or a library that dropped its sessions) ends the login without any call
   * failing; a slot poll is where that shows up.
   */
  reconcile(slots: readonly SlotSummary[]): void {
    const gone = new Map<ErrorCode, SlotId[]>();
    for (const slotId of this.loggedIn.values()) {
      const slot = slots.find((s) => s.slotId === slotId);
      const reason: ErrorCode | undefined = !slot?.token
        ? 'TOKEN_REMOVED'
        : !slot.session.loggedIn
          ? 'SESSION_CLOSED'
          : undefined;
      if (!reason) continue;
      this.loggedIn.delete(slotId);
      gone.set(reason, [...(gone.get(reason) ?? []), slotId]);
    }
    for (const [reason, slotIds] of gone) this.deps.onLoginRequired({ slotIds, reason });
  }

  dispose(): void {
    this.clearTimer();
  }

  private add(slotId: SlotId): void {
    this.loggedIn.set(slotId, slotId);
    this.arm();
  }

  private touch(): void {
    this.lastActivity = this.deps.timers.now();
    this.arm();
  }

  private clearTimer(): void {
    if (this.idleTimer !== undefined) this.deps.timers.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private arm(): void {
    this.clearTimer();
    if (this.idleMs <= 0 || this.loggedIn.size === 0 || this.callsInFlight > 0) return;
    const due = Math.max(0, this.lastActivity + this.idleMs - this.deps.timers.now());
    this.idleTimer = this.deps.timers.setTimeout(() => void this.onIdle(), due);
    unrefTimer(this.idleTimer);
  }

  private async onIdle(): Promise<void> {
    this.idleTimer = undefined;
    if (this.callsInFlight > 0 || this.loggedIn.size === 0) return;
    if (this.deps.timers.now() - this.lastActivity < this.idleMs) return this.arm();
    const slotIds = this.forgetAll();
    for (const slotId of slotIds) {
      try {
        await this.deps.logout(slotId);
      } catch (error) {
        // Already logged out or the token is gone: the session is over either way.
        this.deps.logger.info('Idle logout failed', { slotId, code: (error as MkmError).code });
      }
    }
    this.deps.logger.info('Logged out after inactivity', { slots: slotIds.length, idleMs: this.idleMs });
    this.deps.onAutoLogout({ slotIds, idleMs: this.idleMs });
  }
}
