import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { ContractShape, Envelope, ParsedRequestOf, ResultOf } from '../../shared/contract-kit.std';
import { events as eventSchemas, type EventName, type Events } from '../../shared/contract.std';
import { MkmError, toErrorShape } from '../../shared/errors.std';
import type { Logger } from './logger.nodejs';

/**
 * The one door into main. Electron's ipcMain, the browser-mode WebSocket and the CLI all call
 * `dispatch`, so every caller gets the same sender check, the same validation and the same
 * typed errors. Handlers never see a raw argument.
 */

export type SenderInfo =
  | { transport: 'electron'; webContentsId: number; frameUrl: string; isMainFrame: boolean }
  | { transport: 'websocket'; origin: string | null; authenticated: boolean }
  | { transport: 'cli' };

export interface CallContext {
  readonly callId: string;
  readonly sender: SenderInfo;
  readonly events: EventBus;
}

export type Handlers<T extends ContractShape> = {
  [NS in keyof T]: {
    [M in keyof T[NS]]: (
      request: ParsedRequestOf<T[NS][M]>,
      ctx: CallContext,
    ) => Promise<ResultOf<T[NS][M]>> | ResultOf<T[NS][M]>;
  };
};

/** Limits checked before schema parsing, so a hostile payload costs little. */
export const PAYLOAD_LIMITS = { maxDepth: 16, maxKeys: 2_000, maxStringLength: 1_048_576 } as const;

export function checkPayloadShape(value: unknown): string | null {
  let keys = 0;
  const walk = (v: unknown, depth: number): string | null => {
    if (depth > PAYLOAD_LIMITS.maxDepth) return 'is nested too deeply';
    if (typeof v === 'string')
      return v.length > PAYLOAD_LIMITS.maxStringLength ? 'holds a string that is too long' : null;
    if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint')
      return `holds a ${typeof v}`;
    if (typeof v !== 'object' || v === null) return null;
    const proto = Object.getPrototypeOf(v);
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) return 'holds a non-plain object';
    for (const key of Reflect.ownKeys(v)) {
      if (typeof key === 'symbol') return 'holds a symbol key';
      if (++keys > PAYLOAD_LIMITS.maxKeys) return 'has too many fields';
      const problem = walk((v as Record<string, unknown>)[key], depth + 1);
      if (problem) return problem;
    }
    return null;
  };
  return walk(value, 0);
}

type Listener = (name: EventName, payload: unknown) => void;

/** Events from main to the renderer go through the contract too: validated before they leave. */
export class EventBus {
  private readonly listeners = new Set<Listener>();

  constructor(private readonly logger: Logger) {}

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit<K extends EventName>(name: K, payload: z.input<Events[K]>): void {
    const parsed = eventSchemas[name].safeParse(payload);
    if (!parsed.success) {
      this.logger.error('dropped an event that does not match the contract', { event: name });
      return;
    }
    for (const listener of this.listeners) {
      try {
        listener(name, parsed.data);
      } catch (error) {
        this.logger.warn('event listener failed', { event: name, error });
      }
    }
  }
}

interface Entry {
  schema: z.ZodType;
  handler: (request: unknown, ctx: CallContext) => unknown;
}

export interface RegistryOptions<T extends ContractShape> {
  contract: T;
  handlers: Handlers<T>;
  isTrustedSender: (sender: SenderInfo) => boolean;
  logger: Logger;
  events: EventBus;
  /** Told of every finished call to a known channel (the audit trail); never throws into a call. */
  onCompleted?: (channel: string, request: unknown, envelope: Envelope, ctx: CallContext) => void;
  /**
   * Runs after validation and before the handler; throwing refuses the call (the audit trail
   * refuses an auditable call it could not record).
   */
  beforeCall?: (channel: string) => Promise<void> | void;
  /** Runs the handler (the token domain ties the call's token work to its operation). */
  around?: (
    channel: string,
    request: unknown,
    ctx: CallContext,
    run: () => Promise<unknown>,
  ) => Promise<unknown>;
}

export class Registry<T extends ContractShape> {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: RegistryOptions<T>) {
    for (const [ns, methods] of Object.entries(options.contract)) {
      for (const [method, def] of Object.entries(methods)) {
        const handler = (options.handlers as Record<string, Record<string, Entry['handler']>>)[ns]?.[method];
        if (typeof handler !== 'function') throw new Error(`No handler registered for ${ns}.${method}`);
        // The typecheck already demands one; a contract built around it still cannot start.
        const kind = (def as { audit?: { kind?: unknown } }).audit?.kind;
        if (kind !== 'audited' && kind !== 'records-itself' && kind !== 'not-audited') {
          throw new Error(`No audit declaration for ${ns}.${method}`);
        }
        this.entries.set(`${ns}.${method}`, { schema: def.request, handler });
      }
    }
  }

  get channels(): string[] {
    return [...this.entries.keys()];
  }

  async dispatch(channel: unknown, request: unknown, sender: SenderInfo): Promise<Envelope> {
    const callId = randomUUID();
    const log = this.options.logger.child({
      callId,
      channel: typeof channel === 'string' ? channel.slice(0, 80) : null,
    });
    try {
      if (!this.options.isTrustedSender(sender)) {
        log.warn('refused a call from an untrusted sender', { transport: sender.transport });
        throw new MkmError('FORBIDDEN_SENDER');
      }
      const entry = typeof channel === 'string' ? this.entries.get(channel) : undefined;
      if (!entry) throw new MkmError('UNKNOWN_CHANNEL');

      const problem = checkPayloadShape(request);
      if (problem) throw new MkmError('VALIDATION', `The request ${problem}.`);
      const parsed = entry.schema.safeParse(request);
      if (!parsed.success) {
        // Paths and codes only: a rejected value may be a PIN typed into the wrong field.
        const issues = parsed.error.issues
          .slice(0, 10)
          .map((i) => `${i.path.join('.') || '(request)'}: ${i.code}`);
        throw new MkmError('VALIDATION', `The request was not valid (${issues.join('; ')}).`, { issues });
      }
      await this.options.beforeCall?.(channel as string);
      const ctx: CallContext = { callId, sender, events: this.options.events };
      let envelope: Envelope;
      try {
        const run = async () => entry.handler(parsed.data, ctx);
        const around = this.options.around;
        envelope = {
          ok: true,
          result: await (around ? around(channel as string, parsed.data, ctx, run) : run()),
        };
      } catch (error) {
        envelope = this.failure(error, log);
      }
      try {
        this.options.onCompleted?.(channel as string, parsed.data, envelope, ctx);
      } catch (error) {
        log.error('the completion hook failed', { error });
      }
      return envelope;
    } catch (error) {
      return this.failure(error, log);
    }
  }

  private failure(error: unknown, log: Logger): Envelope {
    const shape = toErrorShape(error);
    if (shape.code === 'INTERNAL') log.error('handler failed', { error });
    else log.debug('call refused', { code: shape.code });
    return { ok: false, error: shape };
  }
}
