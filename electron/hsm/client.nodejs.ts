import { EventEmitter } from 'node:events';
import { MkmError, type ErrorCode, type MkmErrorShape } from '../../shared/errors.std';
import { silentLogger, type Logger } from '../core/logger.nodejs';
import { createNodeHostSpawner } from './node-spawner.nodejs';
import {
  HSM_PROTOCOL_VERSION,
  parseHostMessage,
  type HostLogRecord,
  type HsmMethodName,
  type HsmParams,
  type HsmResult,
  type ProgressPhase,
} from './host/protocol.std';
import { LoginTracker, type SlotId } from './logins.nodejs';
import { watchSlots } from './slot-watch.nodejs';
import type { SlotsChange } from './slots.std';
import type { HostExit, HostHandle, HostSpawner } from './spawner.std';
import { systemTimers, type ClientTimers } from './timers.std';
import type { SlotSummary } from '../../shared/tokens.std';

export type { SlotId } from './logins.nodejs';

/**
 * Main's side of the HSM host. Every PKCS#11 call runs in a separate process so a vendor
 * library that crashes, hangs or aborts takes only that process down; this client turns such
 * a death into TOKEN_CONNECTION_LOST for the calls in flight, starts a new host, reloads the
 * module and tells the UI that the user has to log in again.
 */

/**
 * `started` and `running` come from the host; `waiting` is main's own: the host began the call
 * `waitingNoticeMs` ago and the token has not answered (repeated every second while it lasts),
 * and `waited` ends such a wait however the call ended (answer, error, abandon, lost host).
 */
export interface CallProgress {
  phase: ProgressPhase | 'waiting' | 'waited';
  elapsedMs: number;
  /** With `waited`: the token answered (a result or a token error), rather than being given up on. */
  answered?: boolean;
}

export interface CallOptions {
  /**
   * How long the host may spend executing the call (time queued behind other calls does not
   * count). Defaults: 30 s, 180 s for RSA key generation. On expiry the host is presumed hung,
   * killed and restarted.
   */
  timeoutMs?: number;
  onProgress?: (progress: CallProgress) => void;
  /**
   * Cancels the operation the call belongs to. A call the token is not answering (it is
   * `waiting`) is then abandoned at once: it rejects with CANCELLED and the host is killed and
   * restarted, as on a timeout. A call the token is answering is left to finish: its answer
   * is kept, and killing the host would only log every slot out.
   */
  signal?: AbortSignal;
}

type CallArgs<K extends HsmMethodName> =
  undefined extends HsmParams<K>
    ? [params?: HsmParams<K>, options?: CallOptions]
    : [params: HsmParams<K>, options?: CallOptions];

export interface HsmClientOptions {
  /** Defaults to `child_process.fork` of the host entry (see `hostEntry`, `env`). */
  spawner?: HostSpawner;
  /** For the default spawner: a built host JS file; default is the TS source run through tsx. */
  hostEntry?: string;
  /** For the default spawner: the host's environment (SOFTHSM2_CONF, vendor variables). */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  timers?: ClientTimers;
  timeouts?: {
    defaultMs?: number;
    rsaGenerationMs?: number;
    perMethod?: Partial<Record<HsmMethodName, number>>;
  };
  /** After this long without an answer a started call is `waiting` on the token; 0 disables. */
  waitingNoticeMs?: number;
  /** How long a new host may take to report ready. */
  startTimeoutMs?: number;
  restart?: {
    /** Delay before the n-th consecutive restart; the last entry repeats. */
    delaysMs?: number[];
    /** Gives up once this many crashes happen within `rapidWindowMs`. */
    maxRapidCrashes?: number;
    rapidWindowMs?: number;
  };
  /** Log out of every slot after this long without a call; 0 disables. Default 5 minutes. */
  idleLogoutMs?: number;
  /** Grace period for a clean shutdown (C_Finalize) before the host is killed. */
  stopGraceMs?: number;
}

export type ConnectionLostReason = 'exit' | 'timeout' | 'protocol' | 'cancelled';

export interface HsmClientEvents {
  'connection-lost': [
    info: { reason: ConnectionLostReason; pid?: number; code: number | null; signal: string | null },
  ];
  'connection-restored': [info: { pid?: number; moduleReloaded: boolean; error?: MkmErrorShape }];
  /** Login state is gone for these slots: the UI shows them as logged out. */
  'login-required': [info: { slotIds: SlotId[]; reason: ErrorCode }];
  'auto-logout': [info: { slotIds: SlotId[]; idleMs: number }];
  'slots-changed': [change: SlotsChange];
  /** The host kept crashing and is not restarted any more; `start()` tries again. */
  'gave-up': [error: MkmError];
  log: [record: HostLogRecord];
}

type State = 'stopped' | 'starting' | 'ready' | 'restarting' | 'failed';

interface Pending {
  method: string;
  onProgress: ((progress: CallProgress) => void) | undefined;
  /** The host began executing the call: its timeout starts now. */
  started: () => void;
  resolve: (value: unknown) => void;
  reject: (error: MkmError) => void;
}

interface Gate {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: MkmError) => void;
}

function createGate(): Gate {
  let resolve!: () => void;
  let reject!: (error: MkmError) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting when the host gives up.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

const lost = (message?: string, details?: MkmErrorShape['details']) =>
  new MkmError('TOKEN_CONNECTION_LOST', message, details);

/** A call the token has not answered for this long is reported as waiting on the token. */
export const WAITING_NOTICE_MS = 2000;
const WAITING_EVERY_MS = 1000;

/** RSA generation is the one routinely slow token operation (tens of seconds on smartcards). */
export function isRsaGeneration(method: string, params: unknown): boolean {
  const type = (params as { type?: unknown } | undefined)?.type;
  return method === 'generateKey' && typeof type === 'string' && type.startsWith('rsa-');
}

export class HsmClient extends EventEmitter<HsmClientEvents> {
  private readonly spawner: HostSpawner;
  private readonly logger: Logger;
  private readonly timers: ClientTimers;
  private readonly options: HsmClientOptions;
  private state: State = 'stopped';
  private host: HostHandle | undefined;
  private hostExited: Promise<HostExit> | undefined;
  private gate: Gate | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private crashTimes: number[] = [];
  private lastModule: { path: unknown; libraryParameters?: unknown } | undefined;
  private readonly logins: LoginTracker;
  private stopWatch: (() => void) | undefined;
  // Why the current host is being killed, so its exit is reported as a timeout, not a crash.
  private lostReason: ConnectionLostReason = 'exit';

  constructor(options: HsmClientOptions = {}) {
    super();
    this.options = options;
    this.logger = (options.logger ?? silentLogger).child({ scope: 'hsm-client' });
    this.spawner =
      options.spawner ??
      createNodeHostSpawner({
        logger: this.logger,
        ...(options.hostEntry ? { hostEntry: options.hostEntry } : {}),
        ...(options.env ? { env: options.env } : {}),
      });
    this.timers = options.timers ?? systemTimers;
    this.logins = new LoginTracker(
      {
        timers: this.timers,
        logger: this.logger,
        logout: (slotId) => this.invoke('logout', { slotId }, {}, true),
        onLoginRequired: (info) => this.notify('login-required', info),
        onAutoLogout: (info) => this.notify('auto-logout', info),
      },
      options.idleLogoutMs ?? 5 * 60_000,
    );
  }

  /** `ready` once the host answers; calls made while it restarts wait for it. */
  get status(): State {
    return this.state;
  }

  get hostPid(): number | undefined {
    return this.host?.pid;
  }

  /** Slots this client logged in to and has not seen logged out. */
  get loggedInSlots(): SlotId[] {
    return this.logins.slots;
  }

  async start(): Promise<void> {
    if (this.state === 'ready') return;
    if (this.state === 'starting' || this.state === 'restarting') return this.gate!.promise;
    this.state = 'starting';
    this.crashTimes = [];
    const gate = (this.gate = createGate());
    try {
      await this.connect();
    } catch (error) {
      this.state = 'stopped';
      this.gate = undefined;
      if (!(error instanceof MkmError)) this.logger.error('Could not start the token host', { error });
      const failure = error instanceof MkmError ? error : lost(undefined, { reason: 'start failed' });
      gate.reject(failure);
      throw failure;
    }
    if (this.state !== 'starting') {
      const cancelled = new MkmError('CANCELLED', 'The token connection was closed.');
      gate.reject(cancelled);
      throw cancelled;
    }
    this.state = 'ready';
    this.gate = undefined;
    gate.resolve();
  }

  async stop(): Promise<void> {
    const previous = this.state;
    this.state = 'stopped';
    this.stopWatch?.();
    this.logins.dispose();
    this.gate?.reject(new MkmError('CANCELLED', 'The token connection was closed.'));
    this.gate = undefined;
    const host = this.host;
    const exited = this.hostExited;
    if (!host || !exited || previous === 'stopped') return;
    try {
      host.send({ t: 'shutdown' });
    } catch {
      host.kill();
    }
    const grace = this.options.stopGraceMs ?? 3000;
    let timer: unknown;
    const timedOut = new Promise<'timeout'>(
      (resolve) => (timer = this.timers.setTimeout(() => resolve('timeout'), grace)),
    );
    if ((await Promise.race([exited, timedOut])) === 'timeout') host.kill();
    this.timers.clearTimeout(timer);
    await exited;
  }

  call<K extends HsmMethodName>(method: K, ...args: CallArgs<K>): Promise<HsmResult<K>> {
    const [params, options] = args;
    return this.invoke(method, params, options ?? {}, false) as Promise<HsmResult<K>>;
  }

  /**
   * Polls `listSlots` and emits `slots-changed`; the first poll reports every slot with
   * `initial: true`. A tick is skipped while the host is busy, so polls never queue up behind a
   * long operation. Returns the function that stops watching.
   */
  watchSlots(options: { intervalMs?: number } = {}): () => void {
    this.stopWatch?.();
    const stopWatching = watchSlots({
      timers: this.timers,
      logger: this.logger,
      intervalMs: options.intervalMs ?? 1000,
      canPoll: () => this.state === 'ready' && this.pending.size === 0,
      listSlots: () => this.invoke('listSlots', undefined, {}, true) as Promise<SlotSummary[]>,
      onChange: (change) => this.notify('slots-changed', change),
      onSlots: (slots) => this.logins.reconcile(slots),
    });
    const stop = () => {
      stopWatching();
      if (this.stopWatch === stop) this.stopWatch = undefined;
    };
    this.stopWatch = stop;
    return stop;
  }

  /** After `ms` without a call, logs out of every slot this client logged in to; 0 disables. */
  setIdleLogout(ms: number): void {
    this.logins.setIdleMs(ms);
  }

  // ---- calls ----

  private timeoutFor(method: string, params: unknown): number {
    const t = this.options.timeouts;
    const perMethod = t?.perMethod?.[method as HsmMethodName];
    if (perMethod !== undefined) return perMethod;
    if (isRsaGeneration(method, params)) return t?.rsaGenerationMs ?? 180_000;
    return t?.defaultMs ?? 30_000;
  }

  private invoke(method: string, params: unknown, options: CallOptions, internal: boolean): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? this.timeoutFor(method, params);
    const noticeMs = this.options.waitingNoticeMs ?? WAITING_NOTICE_MS;
    const { signal } = options;
    if (!internal) this.logins.callStarted();
    return new Promise((resolve, reject) => {
      let settled = false;
      let sentId: number | undefined;
      let timer: unknown;
      let startedAt = 0;
      let waitTimer: unknown;
      let waiting = false;
      const report = (progress: CallProgress) => {
        try {
          options.onProgress?.(progress);
        } catch (error) {
          this.logger.warn('A progress listener threw', { error });
        }
      };
      const finish = (settle: () => void, answered = false) => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) this.timers.clearTimeout(timer);
        if (waitTimer !== undefined) this.timers.clearTimeout(waitTimer);
        signal?.removeEventListener('abort', onAbort);
        if (sentId !== undefined) this.pending.delete(sentId);
        if (!internal) this.logins.callEnded();
        // Before the caller goes on, so no status still says it waits.
        if (waiting) report({ phase: 'waited', elapsedMs: this.timers.now() - startedAt, answered });
        settle();
      };
      // The token is not answering and nobody wants the answer any more: the host is stuck
      // inside the call with its queue behind it, so only a new process frees the token.
      const abandon = () => {
        const waitedMs = this.timers.now() - startedAt;
        this.logger.warn('Abandoning a call the token does not answer', { method, waitedMs });
        finish(() =>
          reject(
            new MkmError(
              'CANCELLED',
              'Cancelled while the token was not answering; the connection to the token is restarted.',
              { method, waitedMs },
            ),
          ),
        );
        this.killHost('cancelled');
      };
      function onAbort() {
        if (waiting) abandon();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      const stillWaiting = () => {
        waitTimer = undefined;
        if (settled) return;
        waiting = true;
        report({ phase: 'waiting', elapsedMs: this.timers.now() - startedAt });
        if (signal?.aborted) return abandon();
        waitTimer = this.timers.setTimeout(stillWaiting, WAITING_EVERY_MS);
      };
      // The clock runs from the moment the host starts the call, not while it waits behind
      // another one: a 30 s call queued behind a 3-minute RSA generation is not hung, and
      // killing the host then would throw away the generation too.
      const startClock = () => {
        if (timer !== undefined || settled) return;
        startedAt = this.timers.now();
        if (noticeMs > 0) waitTimer = this.timers.setTimeout(stillWaiting, noticeMs);
        timer = this.timers.setTimeout(() => {
          finish(() => reject(new MkmError('TIMEOUT', undefined, { method, timeoutMs })));
          // The host is still inside the call and its queue is stuck behind it: only a new
          // process gets the token back.
          this.killHost('timeout');
        }, timeoutMs);
      };

      const send = () => {
        if (settled) return;
        const host = this.host;
        if (!host) return finish(() => reject(lost()));
        const id = this.nextId++;
        sentId = id;
        this.pending.set(id, {
          method,
          onProgress: options.onProgress,
          started: startClock,
          resolve: (value) =>
            finish(() => {
              if (!internal) this.trackSuccess(method, params);
              resolve(value);
            }, true),
          reject: (error) =>
            finish(
              () => {
                if (!internal) this.logins.failed(method, params, error);
                reject(error);
              },
              // The token's own error is an answer; a lost host is not.
              error.code !== 'TOKEN_CONNECTION_LOST' && error.code !== 'CANCELLED',
            ),
        });
        this.logger.debug('Call', { id, method });
        try {
          host.send({ t: 'call', id, method, params });
        } catch {
          this.pending.get(id)?.reject(lost());
        }
      };

      if (this.state === 'ready' || (internal && this.host)) send();
      else if (this.gate) this.gate.promise.then(send, (error: MkmError) => finish(() => reject(error)));
      else if (this.state === 'failed')
        finish(() => reject(lost('The token host kept crashing and was stopped.')));
      else finish(() => reject(lost('The token host is not running.')));
    });
  }

  private trackSuccess(method: string, params: unknown): void {
    if (method === 'loadModule') {
      const { path, libraryParameters } = (params ?? {}) as { path?: unknown; libraryParameters?: unknown };
      // Only what reloading needs is kept: never a PIN, whatever else the params held.
      this.lastModule = libraryParameters === undefined ? { path } : { path, libraryParameters };
    } else if (method === 'unloadModule') {
      this.lastModule = undefined;
    }
    this.logins.succeeded(method, params);
  }

  // ---- host lifecycle ----

  private async connect(): Promise<void> {
    const host = this.spawner.spawn();
    this.host = host;
    let started = false;
    let onReady!: () => void;
    let onEarlyExit!: (error: MkmError) => void;
    const ready = new Promise<void>((resolve, reject) => {
      onReady = () => {
        started = true;
        resolve();
      };
      onEarlyExit = reject;
    });
    this.hostExited = new Promise((resolve) =>
      host.onExit((exit) => {
        resolve(exit);
        if (!started) {
          // Stream output may still be in flight; what has arrived explains most start failures
          // (a missing module, a syntax error in a dev build).
          this.logger.error('Token host stopped while starting', { ...exit, output: host.recentOutput?.() });
          onEarlyExit(
            lost('The token host stopped while starting.', { code: exit.code, signal: exit.signal }),
          );
        }
        this.onHostExit(host, exit);
      }),
    );
    host.onMessage((raw) => this.onHostMessage(host, raw, onReady));
    const startTimeoutMs = this.options.startTimeoutMs ?? 20_000;
    const timer = this.timers.setTimeout(() => {
      onEarlyExit(lost('The token host did not start in time.', { timeoutMs: startTimeoutMs }));
      host.kill();
    }, startTimeoutMs);
    try {
      await ready;
    } finally {
      this.timers.clearTimeout(timer);
    }
    this.logger.info('Token host ready', { hostPid: host.pid });
  }

  private onHostMessage(host: HostHandle, raw: unknown, onReady: () => void): void {
    if (host !== this.host) return;
    const parsed = parseHostMessage(raw);
    if (!parsed.ok) {
      this.logger.warn('Malformed message from the token host', { reason: parsed.reason });
      if (parsed.id !== undefined) {
        this.pending.get(parsed.id)?.reject(new MkmError('INTERNAL', undefined, { reason: parsed.reason }));
      }
      return;
    }
    const message = parsed.message;
    switch (message.t) {
      case 'result':
        this.pending.get(message.id)?.resolve(message.result);
        return;
      case 'error':
        this.pending.get(message.id)?.reject(MkmError.fromShape(message.error));
        return;
    }
    switch (message.name) {
      case 'ready':
        if (message.protocol !== HSM_PROTOCOL_VERSION) {
          this.logger.error('Token host speaks another protocol version', { protocol: message.protocol });
          this.killHost('protocol');
          return;
        }
        onReady();
        return;
      case 'progress': {
        const pending = this.pending.get(message.id);
        // Heartbeats do not extend the clock: with async PKCS#11 calls the host keeps ticking
        // while a vendor thread is stuck.
        if (message.phase === 'started') pending?.started();
        try {
          pending?.onProgress?.({ phase: message.phase, elapsedMs: message.elapsedMs });
        } catch (error) {
          this.logger.warn('A progress listener threw', { error });
        }
        return;
      }
      case 'log': {
        const { level, msg, time: _t, name: _n, pid, ...fields } = message.record;
        this.logger[level](msg, { ...fields, from: 'host', hostPid: pid });
        this.notify('log', message.record);
        return;
      }
    }
  }

  private killHost(reason: ConnectionLostReason): void {
    this.lostReason = reason;
    this.host?.kill();
  }

  private onHostExit(host: HostHandle, exit: HostExit): void {
    if (host !== this.host) return;
    this.host = undefined;
    const reason = this.lostReason;
    this.lostReason = 'exit';
    const wasReady = this.state === 'ready';
    const error =
      this.state === 'stopped' ? new MkmError('CANCELLED', 'The token connection was closed.') : lost();
    for (const pending of [...this.pending.values()]) pending.reject(error);
    if (this.state === 'stopped' || this.state === 'starting') return;

    this.logger.warn('Token host stopped', {
      hostPid: host.pid,
      code: exit.code,
      signal: exit.signal,
      reason,
    });
    if (wasReady) {
      this.state = 'restarting';
      this.gate = createGate();
      this.notify('connection-lost', { reason, pid: host.pid, code: exit.code, signal: exit.signal });
      const slotIds = this.logins.forgetAll();
      if (slotIds.length) this.notify('login-required', { slotIds, reason: 'TOKEN_CONNECTION_LOST' });
    }
    // A listener may have stopped the client.
    if (this.state === 'restarting') this.scheduleRestart(reason === 'cancelled');
  }

  /** `cancelled`: the admin gave up on a stuck call; that is no crash of the library. */
  private scheduleRestart(cancelled = false): void {
    const r = this.options.restart ?? {};
    const now = this.timers.now();
    const windowMs = r.rapidWindowMs ?? 60_000;
    this.crashTimes = this.crashTimes.filter((t) => now - t < windowMs);
    if (!cancelled) this.crashTimes.push(now);
    const maxCrashes = r.maxRapidCrashes ?? 5;
    if (this.crashTimes.length >= maxCrashes) {
      const error = lost(
        `The token host stopped ${this.crashTimes.length} times within ${Math.round(windowMs / 1000)} s and was not restarted. Check the PKCS#11 library, then reconnect.`,
        { crashes: this.crashTimes.length },
      );
      this.logger.error('Token host keeps crashing; giving up', { crashes: this.crashTimes.length });
      this.state = 'failed';
      this.gate?.reject(error);
      this.gate = undefined;
      this.notify('gave-up', error);
      return;
    }
    const delays = r.delaysMs ?? [250, 1000, 3000, 10_000];
    const delay = delays[Math.max(0, Math.min(this.crashTimes.length - 1, delays.length - 1))] ?? 1000;
    this.timers.setTimeout(() => void this.restart(), delay);
  }

  private async restart(): Promise<void> {
    if (this.state !== 'restarting') return;
    try {
      await this.connect();
    } catch (error) {
      // An exit while starting was already counted by onHostExit; a spawn that threw was not.
      if (this.host === undefined && this.state === 'restarting' && !(error instanceof MkmError)) {
        this.logger.error('Could not start the token host', { error });
        this.scheduleRestart();
      } else if (this.host && this.state === 'restarting') {
        this.host.kill();
      }
      return;
    }
    if (this.state !== 'restarting') return;
    let moduleError: MkmErrorShape | undefined;
    if (this.lastModule) {
      try {
        await this.invoke('loadModule', this.lastModule, {}, true);
      } catch (error) {
        moduleError = (error as MkmError).toShape?.() ?? lost().toShape();
        this.logger.warn('Reloading the PKCS#11 module after a restart failed', { code: moduleError.code });
      }
    }
    if (this.state !== 'restarting' || !this.host) return;
    this.state = 'ready';
    const gate = this.gate;
    this.gate = undefined;
    this.notify('connection-restored', {
      pid: this.host.pid,
      moduleReloaded: this.lastModule !== undefined && moduleError === undefined,
      ...(moduleError ? { error: moduleError } : {}),
    });
    gate?.resolve();
  }

  /**
   * Listeners are UI code; one that throws must not unwind into a child-process event handler
   * and take main down, nor stop the client's own bookkeeping halfway.
   */
  private notify<K extends keyof HsmClientEvents>(event: K, ...args: HsmClientEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: HsmClientEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.logger.error('An HsmClient listener threw', { event, error });
    }
  }
}
