/** The only two raw Electron IPC channels: every contract call and every contract event. */
export const IPC_CALL = 'mkm:call';
export const IPC_EVENT = 'mkm:event';
