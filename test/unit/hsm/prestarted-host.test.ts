import { describe, expect, it } from 'vitest';
import type { Logger } from '../../../electron/core/logger.nodejs';
import { prestartHost } from '../../../electron/hsm/prestarted-host.nodejs';
import type { HostExit, HostHandle } from '../../../electron/hsm/spawner.std';

// The process boundary is faked here; test/integration/cli runs the real prestarted host.
class FakeHost implements HostHandle {
  readonly pid = 4242;
  killed = false;
  sent: unknown[] = [];
  private listeners: ((raw: unknown) => void)[] = [];
  private exitListener: ((exit: HostExit) => void) | null = null;
  constructor(readonly logger?: Logger) {}
  send(message: never) {
    this.sent.push(message);
  }
  onMessage(listener: (raw: unknown) => void) {
    this.listeners.push(listener);
  }
  onExit(listener: (exit: HostExit) => void) {
    this.exitListener = listener;
  }
  kill() {
    this.killed = true;
  }
  say(raw: unknown) {
    for (const l of this.listeners) l(raw);
  }
  exit(exit: HostExit) {
    this.exitListener?.(exit);
  }
}

function spawner() {
  const spawned: { env: NodeJS.ProcessEnv; host: FakeHost }[] = [];
  const spawn = (env: NodeJS.ProcessEnv, logger?: Logger) => {
    const host = new FakeHost(logger);
    spawned.push({ env, host });
    return host;
  };
  return { spawned, spawn };
}

function recordingLogger(lines: string[], prefix = ''): Logger {
  return {
    debug: (m) => lines.push(`${prefix}debug ${m}`),
    info: (m) => lines.push(`${prefix}info ${m}`),
    warn: (m) => lines.push(`${prefix}warn ${m}`),
    error: (m) => lines.push(`${prefix}error ${m}`),
    child: (b) => recordingLogger(lines, `${prefix}${JSON.stringify(b)} `),
  };
}

describe('a token host forked before it is asked for', () => {
  it('starts at once, and hands its early "ready" to the client that takes it later', () => {
    const env = { A: '1' };
    const { spawned, spawn } = spawner();
    const pre = prestartHost(env, spawn);
    expect(spawned).toHaveLength(1);
    spawned[0]!.host.say({ t: 'event', name: 'ready' });

    const handle = pre.spawnerFor(env).spawn();
    const heard: unknown[] = [];
    handle.onMessage((raw) => heard.push(raw));
    spawned[0]!.host.say({ t: 'result', id: 1 });
    expect(heard).toEqual([
      { t: 'event', name: 'ready' },
      { t: 'result', id: 1 },
    ]);
    expect(spawned).toHaveLength(1);
  });

  it('is taken once: a restart after a crash forks a new host', () => {
    const env = {};
    const { spawned, spawn } = spawner();
    const pre = prestartHost(env, spawn);
    const first = pre.spawnerFor(env).spawn();
    const second = pre.spawnerFor(env).spawn();
    expect(first.pid).toBe(4242);
    expect(second).toBe(spawned[1]!.host);
    expect(spawned).toHaveLength(2);
  });

  it('never serves another environment (the demo token has its own)', () => {
    const env = { SOFTHSM2_CONF: '/etc/a' };
    const demo = { SOFTHSM2_CONF: '/tmp/demo' };
    const { spawned, spawn } = spawner();
    const pre = prestartHost(env, spawn);
    const handle = pre.spawnerFor(demo).spawn();
    expect(handle).toBe(spawned[1]!.host);
    expect(spawned[1]!.env).toBe(demo);
    pre.dispose();
    expect(spawned[0]!.host.killed).toBe(true);
  });

  it('is killed when no command takes it, and left alone once taken', () => {
    const env = {};
    const unused = spawner();
    prestartHost(env, unused.spawn).dispose();
    expect(unused.spawned[0]!.host.killed).toBe(true);

    const used = spawner();
    const pre = prestartHost(env, used.spawn);
    pre.spawnerFor(env).spawn();
    pre.dispose();
    expect(used.spawned[0]!.host.killed).toBe(false);
  });

  it("logs the host's early output to the app's logger once it is known", () => {
    const env = {};
    const { spawned, spawn } = spawner();
    const pre = prestartHost(env, spawn);
    spawned[0]!.host.logger!.child({ hostPid: 4242 }).warn('Host stderr');
    const lines: string[] = [];
    pre.spawnerFor(env, recordingLogger(lines)).spawn();
    spawned[0]!.host.logger!.info('later');
    expect(lines).toEqual(['{"hostPid":4242} warn Host stderr', 'info later']);
  });

  it('passes on how it ended', () => {
    const env = {};
    const { spawned, spawn } = spawner();
    const pre = prestartHost(env, spawn);
    const handle = pre.spawnerFor(env).spawn();
    const exits: HostExit[] = [];
    handle.onExit((e) => exits.push(e));
    spawned[0]!.host.exit({ code: 70, signal: null });
    expect(exits).toEqual([{ code: 70, signal: null }]);
  });
});
