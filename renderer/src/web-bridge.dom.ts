import { buildApi, type ClientTransport } from '../../shared/api.std';
import type { Envelope } from '../../shared/contract-kit.std';
import { MkmError } from '../../shared/errors.std';
import { SECRET_FRAGMENT_KEY, WS_PATH, type ServerMessage } from '../../shared/browser-protocol.std';

/**
 * Browser mode's stand-in for the Electron preload: builds the very same `window.mkm` object
 * from the contract, over the loopback WebSocket instead of ipcRenderer.
 */
function takeSecret(): string | null {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromFragment = params.get(SECRET_FRAGMENT_KEY);
  if (fromFragment) {
    // Out of the address bar and history; kept for this tab only so a reload still works.
    sessionStorage.setItem(SECRET_FRAGMENT_KEY, fromFragment);
    history.replaceState(null, '', location.pathname + location.search);
    return fromFragment;
  }
  return sessionStorage.getItem(SECRET_FRAGMENT_KEY);
}

function createTransport(secret: string | null): ClientTransport {
  const pending = new Map<number, (envelope: Envelope) => void>();
  let eventListener: (name: string, payload: unknown) => void = () => {};
  let nextId = 1;
  let ready: Promise<WebSocket> | null = null;

  const fail = (code: 'UNAUTHENTICATED' | 'TOKEN_CONNECTION_LOST', message?: string): Envelope => ({
    ok: false,
    error: new MkmError(code, message).toShape(),
  });

  const connect = () =>
    new Promise<WebSocket>((resolve, reject) => {
      if (!secret) {
        reject(
          new MkmError(
            'UNAUTHENTICATED',
            'Open browser mode with the launch link it printed (each link works once).',
          ),
        );
        return;
      }
      const ws = new WebSocket(`ws://${location.host}${WS_PATH}`);
      ws.onopen = () => ws.send(JSON.stringify({ t: 'hello', secret }));
      ws.onmessage = (event) => {
        const message = JSON.parse(String(event.data)) as ServerMessage;
        if (message.t === 'ready') resolve(ws);
        else if (message.t === 'refused') reject(new MkmError('UNAUTHENTICATED', message.message));
        else if (message.t === 'result') pending.get(message.id)?.(message.envelope as Envelope);
        else if (message.t === 'event') eventListener(message.name, message.payload);
      };
      ws.onclose = () => {
        ready = null;
        for (const [id, settle] of pending) {
          pending.delete(id);
          settle(fail('TOKEN_CONNECTION_LOST', 'The connection to the app was lost.'));
        }
        reject(new MkmError('UNAUTHENTICATED', 'The app closed the connection.'));
      };
    });

  return {
    async invoke(channel, request) {
      try {
        ready ??= connect();
        const ws = await ready;
        const id = nextId++;
        return await new Promise<Envelope>((resolve) => {
          pending.set(id, (envelope) => {
            pending.delete(id);
            resolve(envelope);
          });
          ws.send(JSON.stringify({ t: 'call', id, channel, request }));
        });
      } catch (error) {
        ready = null;
        return {
          ok: false,
          error: (error instanceof MkmError ? error : new MkmError('UNAUTHENTICATED')).toShape(),
        };
      }
    },
    subscribe(listener) {
      eventListener = listener;
      // Events flow only over an open socket: open it now so the page hears them early.
      ready ??= connect();
      ready.catch(() => (ready = null));
    },
  };
}

if (!('mkm' in window)) {
  Object.defineProperty(window, 'mkm', {
    value: buildApi(createTransport(takeSecret()), { encodeErrors: false }),
    writable: false,
    configurable: false,
    enumerable: true,
  });
}
