import { HsmClient } from '../../../electron/hsm/client.nodejs';
import { createDispatcher } from '../../../electron/hsm/host/dispatcher.host';
import type { HostMessage, ParentMessage } from '../../../electron/hsm/host/protocol.std';
import type { HostExit, HostHandle, HostSpawner } from '../../../electron/hsm/spawner.std';
import { createLogger, type LogRecord } from '../../../electron/core/logger.nodejs';

/**
 * The real dispatcher in-process, behind a channel that behaves like IPC: asynchronous
 * delivery, structured clone, nothing delivered once the "process" is dead. Lets the client's
 * crash, timeout and idle logic run under fake timers.
 */
export class FakeHost implements HostHandle {
  static nextPid = 1000;
  readonly pid = FakeHost.nextPid++;
  readonly received: ParentMessage[] = [];
  readonly logs: LogRecord[] = [];
  dead = false;
  private messageListener: ((raw: unknown) => void) | undefined;
  private exitListener: ((exit: HostExit) => void) | undefined;
  private readonly dispatcher;

  constructor(readonly service: object) {
    const logger = createLogger({
      name: 'host',
      level: 'debug',
      stderrLevel: 'silent',
      sink: (r) => this.logs.push(r),
    });
    this.dispatcher = createDispatcher({
      service,
      logger,
      send: (m) => this.emit(m),
      onShutdown: () => this.exit(0, null),
    });
    queueMicrotask(() => this.emit({ t: 'event', name: 'ready', pid: this.pid, protocol: 1 }));
  }

  /** Anything, even a malformed message, as if the host process had sent it. */
  emit(message: HostMessage | unknown): void {
    if (this.dead) return;
    const copy = structuredClone(message);
    queueMicrotask(() => !this.dead && this.messageListener?.(copy));
  }

  send(message: ParentMessage): void {
    if (this.dead) throw new Error('channel closed');
    this.received.push(structuredClone(message));
    const copy = structuredClone(message);
    queueMicrotask(() => !this.dead && this.dispatcher.handle(copy));
  }

  onMessage(listener: (raw: unknown) => void): void {
    this.messageListener = listener;
  }

  onExit(listener: (exit: HostExit) => void): void {
    this.exitListener = listener;
  }

  kill(): void {
    this.exit(null, 'SIGKILL');
  }

  exit(code: number | null, signal: string | null): void {
    if (this.dead) return;
    this.dead = true;
    queueMicrotask(() => this.exitListener?.({ code, signal }));
  }

  calls(method?: string): Extract<ParentMessage, { t: 'call' }>[] {
    return this.received.filter(
      (m): m is Extract<ParentMessage, { t: 'call' }> => m.t === 'call' && (!method || m.method === method),
    );
  }
}

export function fakeSpawner(
  makeService: () => object,
): HostSpawner & { hosts: FakeHost[]; current(): FakeHost } {
  const hosts: FakeHost[] = [];
  return {
    hosts,
    current: () => hosts[hosts.length - 1]!,
    spawn() {
      const host = new FakeHost(makeService());
      hosts.push(host);
      return host;
    },
  };
}

/** A stand-in TokenEngine: the few methods the client treats specially, plus a controllable slow one. */
export class FakeTokenService {
  loggedIn = new Set<number>();
  slots = [{ slotId: 1, token: { serial: 'A1' } }];
  release: (() => void) | undefined;
  listSlotsCalls = 0;

  async loadModule(p: { path: string }) {
    return { path: p.path };
  }
  async listSlots() {
    this.listSlotsCalls++;
    return this.slots.map((s) => ({ ...s, session: { loggedIn: this.loggedIn.has(s.slotId) } }));
  }
  async login(p: { slotId: number; pin: string }) {
    if (p.pin !== '123456') throw Object.assign(new Error(`bad pin ${p.pin}`), {});
    this.loggedIn.add(p.slotId);
    return { slotId: p.slotId, loggedIn: true, userType: 'user' };
  }
  async logout(p: { slotId: number }) {
    this.loggedIn.delete(p.slotId);
    return { ok: true };
  }
  /** Never settles until `release()`: a vendor library stuck in a call. */
  async generateKey(_p: unknown) {
    await new Promise<void>((resolve) => (this.release = resolve));
    return { id: '01' };
  }
  helper() {
    return 'not async, but still a method on the class';
  }
}

/** A client over fake hosts (restart after 100 ms), recording its connection events. */
export function setupClient(options: ConstructorParameters<typeof HsmClient>[0] = {}) {
  const services: FakeTokenService[] = [];
  const spawner = fakeSpawner(() => {
    const s = new FakeTokenService();
    services.push(s);
    return s;
  });
  const client = new HsmClient({ spawner, restart: { delaysMs: [100] }, ...options });
  const events: [string, unknown][] = [];
  for (const name of ['connection-lost', 'connection-restored', 'login-required', 'gave-up'] as const) {
    client.on(name, (info: unknown) => events.push([name, info]));
  }
  return { client, spawner, services, events };
}

export async function loggedIn(client: HsmClient): Promise<void> {
  await client.start();
  await client.call('loadModule', { path: '/opt/vendor/libp11.so' });
  await client.call('login', { slotId: 1, pin: '123456' });
}
