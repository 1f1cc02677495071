import type { HostMessage } from './protocol.std';

/** The channel to main, whichever way the host was started. */
export interface HostTransport {
  readonly kind: 'electron-utility' | 'node-ipc';
  send(message: HostMessage): void;
  onMessage(listener: (raw: unknown) => void): void;
  /** Main went away: nobody is left to answer, so the host should exit. */
  onDisconnect(listener: () => void): void;
}

// Electron's types are not loaded in the host (it must not import 'electron'), so only the part
// of `process.parentPort` that is used is described here.
interface ParentPortLike {
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  postMessage(message: unknown): void;
}

export function detectTransport(proc: NodeJS.Process = process): HostTransport {
  const parentPort = (proc as unknown as { parentPort?: ParentPortLike | null }).parentPort;
  if (parentPort) {
    return {
      kind: 'electron-utility',
      send: (message) => parentPort.postMessage(message),
      onMessage: (listener) => parentPort.on('message', (event) => listener(event.data)),
      // Electron ends a utility process together with its parent; nothing to watch.
      onDisconnect: () => {},
    };
  }
  if (typeof proc.send === 'function') {
    return {
      kind: 'node-ipc',
      send: (message) => {
        if (!proc.connected) return;
        proc.send!(message);
      },
      onMessage: (listener) => proc.on('message', listener),
      onDisconnect: (listener) => proc.on('disconnect', listener),
    };
  }
  throw new Error('The HSM host must be started by the app (no IPC channel to its parent).');
}
