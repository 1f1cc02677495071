import { contextBridge, ipcRenderer } from 'electron';
import { buildApi } from '../../shared/api.std';
import type { Envelope } from '../../shared/contract-kit.std';
import { IPC_CALL, IPC_EVENT } from '../ipc-channels.std';

/**
 * The sandboxed preload: one frozen, namespaced object generated from the contract. The page
 * never sees ipcRenderer, and there is no generic invoke to reach a channel by name.
 */
const api = buildApi(
  {
    invoke: (channel, request) => ipcRenderer.invoke(IPC_CALL, channel, request) as Promise<Envelope>,
    subscribe: (listener) => {
      ipcRenderer.on(IPC_EVENT, (_event, name: string, payload: unknown) => listener(name, payload));
    },
  },
  // contextBridge keeps only an Error's message; the renderer decodes the typed error from it.
  { encodeErrors: true },
);

contextBridge.exposeInMainWorld('mkm', api);
