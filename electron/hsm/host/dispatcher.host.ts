import type { z } from 'zod';
import { MkmError, toErrorShape, type MkmErrorShape } from '../../../shared/errors.std';
import type { Logger } from '../../core/logger.nodejs';
import { parseHsmParams, parseParentMessage, type CallMessage, type HostMessage } from './protocol.std';

export interface DispatcherOptions {
  /** The object whose methods are the operations; in production the TokenEngine. */
  service: object;
  send: (message: HostMessage) => void;
  logger: Logger;
  onShutdown?: () => void;
  /** Interval of the "still running" heartbeat sent for every call. */
  tickMs?: number;
  /**
   * The methods main may call, each with the schema its params are parsed with before the method
   * runs (production: HSM_METHODS); anything else is UNKNOWN_CHANNEL. Default: any
   * public-looking method, params as they came.
   */
  methods?: Readonly<Record<string, z.ZodType>>;
  /** A second look at a failure before it is answered (e.g. was the token removed?). */
  refineError?: (call: CallMessage, error: MkmErrorShape) => Promise<MkmErrorShape>;
}

export interface Dispatcher {
  handle(raw: unknown): void;
  /** Resolves when every call received so far has been answered. */
  drain(): Promise<void>;
}

/**
 * Only methods defined on the service's classes are callable; a name like `toString`,
 * `constructor` or an `_internal` helper is refused so main cannot reach anything else.
 */
export function resolveMethod(service: object, name: string): ((params: unknown) => unknown) | undefined {
  if (name === 'constructor' || name.startsWith('_')) return undefined;
  for (let proto = Object.getPrototypeOf(service); proto && proto !== Object.prototype;) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    if (descriptor) return typeof descriptor.value === 'function' ? descriptor.value : undefined;
    proto = Object.getPrototypeOf(proto);
  }
  return undefined;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { service, logger } = options;
  const tickMs = options.tickMs ?? 250;
  // One queue for every slot: vendor libraries differ in what they allow concurrently (sessions
  // shared across threads, C_GetSlotList during C_GenerateKeyPair), and one token rarely runs
  // two operations faster than one after the other anyway.
  let tail: Promise<void> = Promise.resolve();

  const send = (message: HostMessage): boolean => {
    try {
      options.send(message);
      return true;
    } catch (error) {
      logger.error('Could not send a message to main', { t: message.t, ...describeUnknown(error) });
      return false;
    }
  };

  const refine = async (call: CallMessage, shape: MkmErrorShape): Promise<MkmErrorShape> => {
    try {
      return (await options.refineError?.(call, shape)) ?? shape;
    } catch {
      return shape;
    }
  };

  const methods = options.methods;

  const run = async (call: CallMessage): Promise<void> => {
    const started = Date.now();
    const schema = methods && Object.hasOwn(methods, call.method) ? methods[call.method] : undefined;
    const fn = methods && !schema ? undefined : resolveMethod(service, call.method);
    if (!fn) {
      send({
        t: 'error',
        id: call.id,
        error: new MkmError('UNKNOWN_CHANNEL', undefined, { method: call.method }).toShape(),
      });
      return;
    }
    send({ t: 'event', name: 'progress', id: call.id, phase: 'started', elapsedMs: 0 });
    // The heartbeat only flows while the service awaits (async PKCS#11 calls); a synchronous
    // vendor call blocks it, which is exactly what main's timeout is there for.
    const ticker = setInterval(() => {
      send({ t: 'event', name: 'progress', id: call.id, phase: 'running', elapsedMs: Date.now() - started });
    }, tickMs);
    try {
      const params = schema ? parseHsmParams(schema, call.params) : call.params;
      const result = await fn.call(service, params);
      if (!send({ t: 'result', id: call.id, result })) {
        send({
          t: 'error',
          id: call.id,
          error: new MkmError('INTERNAL', undefined, { reason: 'unserializable result' }).toShape(),
        });
      }
      logger.debug('Call done', { id: call.id, method: call.method, ms: Date.now() - started });
    } catch (error) {
      const shape = await refine(call, toErrorShape(error));
      // Typed errors are expected outcomes (a wrong PIN) and are logged by code. An untyped one
      // is a bug or a vendor surprise: its name and stack frames help, its message does not go
      // anywhere, because a library's text can quote the PIN or data it was given.
      if (shape.code === 'INTERNAL') {
        logger.error('Call failed', { id: call.id, method: call.method, ...describeUnknown(error) });
      } else {
        logger.info('Call failed', { id: call.id, method: call.method, code: shape.code });
      }
      send({ t: 'error', id: call.id, error: shape });
    } finally {
      clearInterval(ticker);
    }
  };

  return {
    handle(raw) {
      const parsed = parseParentMessage(raw);
      if (!parsed.ok) {
        logger.warn('Refused a malformed message from main', { reason: parsed.reason });
        if (parsed.id !== undefined) {
          send({
            t: 'error',
            id: parsed.id,
            error: new MkmError('VALIDATION', undefined, { reason: parsed.reason }).toShape(),
          });
        }
        return;
      }
      const message = parsed.message;
      if (message.t === 'shutdown') {
        options.onShutdown?.();
        return;
      }
      tail = tail.then(() => run(message));
    },
    drain: () => tail,
  };
}

/** An error for the log without its message (see above): its name and where it came from. */
export function describeUnknown(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { thrown: typeof error };
  const frames = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  return { errorName: error.name, frames: frames.slice(0, 12).map((f) => f.trim()) };
}
