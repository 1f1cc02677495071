import { channelNames, type Envelope } from './contract-kit.std';
import { contract, events, type EventName, type MkmApi } from './contract.std';
import { isMkmErrorShape, MkmError } from './errors.std';

/**
 * Builds the one namespaced object the renderer sees (`window.mkm.settings.get()`), for any
 * transport: Electron's ipcRenderer in the preload, a loopback WebSocket in browser mode. There
 * is deliberately no generic `invoke(channel, ...)` on the result.
 */
export interface ClientTransport {
  invoke(channel: string, request: unknown): Promise<Envelope>;
  subscribe(listener: (name: string, payload: unknown) => void): void;
}

/** Error text that survives Electron's contextBridge, which keeps only an Error's message. */
export const ERROR_PREFIX = 'mkm-error:';

export function encodeError(error: MkmError): Error {
  return new Error(ERROR_PREFIX + JSON.stringify(error.toShape()));
}

/** Turns whatever a rejected API call produced back into a typed MkmError. */
export function decodeError(error: unknown): MkmError {
  if (error instanceof MkmError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const at = message.indexOf(ERROR_PREFIX);
  if (at >= 0) {
    try {
      const shape: unknown = JSON.parse(message.slice(at + ERROR_PREFIX.length));
      if (isMkmErrorShape(shape)) return MkmError.fromShape(shape);
    } catch {
      // fall through
    }
  }
  return new MkmError('INTERNAL');
}

export function buildApi(transport: ClientTransport, options: { encodeErrors: boolean }): MkmApi {
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  transport.subscribe((name, payload) => {
    for (const listener of listeners.get(name) ?? []) {
      try {
        listener(payload);
      } catch {
        // One broken listener must not silence the others.
      }
    }
  });

  const api: Record<string, unknown> = {};
  for (const name of channelNames(contract)) {
    const [ns, method] = name.split('.') as [string, string];
    const group = (api[ns] ??= {}) as Record<string, unknown>;
    group[method] = async (request?: unknown) => {
      const envelope = await transport.invoke(name, request);
      if (envelope.ok) return envelope.result;
      const error = MkmError.fromShape(envelope.error);
      throw options.encodeErrors ? encodeError(error) : error;
    };
  }
  for (const group of Object.values(api)) Object.freeze(group);

  api.events = Object.freeze({
    on(name: EventName, listener: (payload: unknown) => void): () => void {
      if (!Object.hasOwn(events, name)) throw new MkmError('VALIDATION', `Unknown event: ${String(name)}`);
      if (typeof listener !== 'function') throw new MkmError('VALIDATION', 'A listener must be a function.');
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      set.add(listener);
      return () => set.delete(listener);
    },
  });
  return Object.freeze(api) as unknown as MkmApi;
}
