import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { detectTransport } from '../../../electron/hsm/host/transport.host';

const ready = { t: 'event', name: 'ready', pid: 1, protocol: 1 } as const;

describe('the host finds its way back to main', () => {
  it('uses process.parentPort in an Electron utility process', () => {
    const port = Object.assign(new EventEmitter(), { posted: [] as unknown[] });
    const proc = Object.assign(new EventEmitter(), {
      parentPort: Object.assign(port, { postMessage: (m: unknown) => port.posted.push(m) }),
      send: () => true,
    });
    const transport = detectTransport(proc as unknown as NodeJS.Process);
    expect(transport.kind).toBe('electron-utility');
    const received: unknown[] = [];
    transport.onMessage((raw) => received.push(raw));
    port.emit('message', { data: { t: 'shutdown' } });
    transport.send(ready);
    expect(received).toEqual([{ t: 'shutdown' }]);
    expect(port.posted).toEqual([ready]);
  });

  it('uses the IPC channel of child_process.fork, and stops sending once it is closed', () => {
    const sent: unknown[] = [];
    const proc = Object.assign(new EventEmitter(), { connected: true, send: (m: unknown) => sent.push(m) });
    const transport = detectTransport(proc as unknown as NodeJS.Process);
    expect(transport.kind).toBe('node-ipc');
    let disconnected = false;
    transport.onDisconnect(() => (disconnected = true));
    transport.send(ready);
    proc.connected = false;
    proc.emit('disconnect');
    transport.send(ready);
    expect(sent).toEqual([ready]);
    expect(disconnected).toBe(true);
  });

  it('refuses to run without a parent', () => {
    expect(() => detectTransport(new EventEmitter() as unknown as NodeJS.Process)).toThrow(
      /started by the app/,
    );
  });
});
