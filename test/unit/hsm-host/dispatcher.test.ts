import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MkmError } from '../../../shared/errors.std';
import { createLogger, type LogRecord } from '../../../electron/core/logger.nodejs';
import { createDispatcher } from '../../../electron/hsm/host/dispatcher.host';
import type { HostMessage } from '../../../electron/hsm/host/protocol.std';

function setup(service: object, tickMs = 250, methods?: Record<string, z.ZodType>) {
  const sent: HostMessage[] = [];
  const logs: LogRecord[] = [];
  const logger = createLogger({
    name: 'host',
    level: 'debug',
    stderrLevel: 'silent',
    sink: (r) => logs.push(r),
  });
  const dispatcher = createDispatcher({
    service,
    logger,
    send: (m) => sent.push(structuredClone(m)),
    tickMs,
    ...(methods ? { methods } : {}),
  });
  const answer = (id: number) => sent.find((m) => (m.t === 'result' || m.t === 'error') && m.id === id);
  return { sent, logs, dispatcher, answer };
}

class Service {
  active = 0;
  maxActive = 0;
  async slow(p: { ms: number }) {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    await new Promise((r) => setTimeout(r, p.ms));
    this.active--;
    return { slept: p.ms };
  }
  async login(p: { slotId: number; pin: string }): Promise<never> {
    throw new Error(`vendor says: wrong pin ${p.pin} for user`);
  }
  async typed(): Promise<never> {
    throw new MkmError('PIN_LOCKED', undefined, { slotId: 1 });
  }
  async unclonable() {
    return { fn: () => 1 };
  }
  _secretHelper() {
    return 'internal';
  }
}

describe('host dispatcher', () => {
  it('answers calls one at a time, in order, even when they would overlap', async () => {
    const service = new Service();
    const { dispatcher, sent } = setup(service);
    dispatcher.handle({ t: 'call', id: 1, method: 'slow', params: { ms: 30 } });
    dispatcher.handle({ t: 'call', id: 2, method: 'slow', params: { ms: 1 } });
    await dispatcher.drain();
    expect(service.maxActive).toBe(1);
    const results = sent.filter((m) => m.t === 'result');
    expect(results).toEqual([
      { t: 'result', id: 1, result: { slept: 30 } },
      { t: 'result', id: 2, result: { slept: 1 } },
    ]);
  });

  it('sends a started event and running ticks while a call is in progress', async () => {
    const { dispatcher, sent } = setup(new Service(), 10);
    dispatcher.handle({ t: 'call', id: 1, method: 'slow', params: { ms: 60 } });
    await dispatcher.drain();
    const progress = sent.filter((m) => m.t === 'event' && m.name === 'progress');
    expect(progress[0]).toMatchObject({ id: 1, phase: 'started', elapsedMs: 0 });
    const running = progress.filter((m) => m.t === 'event' && m.name === 'progress' && m.phase === 'running');
    expect(running.length).toBeGreaterThanOrEqual(2);
    // No tick after the answer: the interval is cleared.
    const resultIndex = sent.findIndex((m) => m.t === 'result');
    expect(sent.slice(resultIndex + 1).filter((m) => m.t === 'event' && m.name === 'progress')).toEqual([]);
  });

  it('turns an untyped error into INTERNAL without its message, and never logs params', async () => {
    const { dispatcher, answer, logs } = setup(new Service());
    dispatcher.handle({ t: 'call', id: 9, method: 'login', params: { slotId: 1, pin: 'S3cr3tPin' } });
    await dispatcher.drain();
    expect(answer(9)).toEqual({
      t: 'error',
      id: 9,
      error: { code: 'INTERNAL', message: expect.any(String) },
    });
    expect(JSON.stringify(answer(9))).not.toContain('S3cr3tPin');
    expect(logs.length).toBeGreaterThan(0);
    expect(JSON.stringify(logs)).not.toContain('S3cr3tPin');
  });

  it('passes a typed error through with its code and details', async () => {
    const { dispatcher, answer } = setup(new Service());
    dispatcher.handle({ t: 'call', id: 2, method: 'typed' });
    await dispatcher.drain();
    expect(answer(2)).toMatchObject({ t: 'error', error: { code: 'PIN_LOCKED', details: { slotId: 1 } } });
  });

  it.each([
    ['toString', 'UNKNOWN_CHANNEL'],
    ['constructor', 'UNKNOWN_CHANNEL'],
    ['hasOwnProperty', 'UNKNOWN_CHANNEL'],
    ['nope', 'UNKNOWN_CHANNEL'],
    ['_secretHelper', 'VALIDATION'],
  ])('refuses %s as %s', async (method, code) => {
    const { dispatcher, answer } = setup(new Service());
    dispatcher.handle({ t: 'call', id: 3, method });
    await dispatcher.drain();
    expect(answer(3)).toMatchObject({ t: 'error', error: { code } });
  });

  it('runs only listed methods when given a list, so private helpers stay out of reach', async () => {
    const { dispatcher, answer } = setup(new Service(), 250, { typed: z.undefined() });
    dispatcher.handle({ t: 'call', id: 1, method: 'slow', params: { ms: 1 } });
    dispatcher.handle({ t: 'call', id: 2, method: 'typed' });
    await dispatcher.drain();
    expect(answer(1)).toMatchObject({ t: 'error', error: { code: 'UNKNOWN_CHANNEL' } });
    expect(answer(2)).toMatchObject({ t: 'error', error: { code: 'PIN_LOCKED' } });
  });

  it("parses params with the method's schema before the method runs, and names paths, never values", async () => {
    const seen: unknown[] = [];
    class Echo {
      async echo(p: unknown) {
        seen.push(p);
        return p;
      }
    }
    const service = new Echo();
    const schema = z.object({ id: z.string().transform((s) => s.toLowerCase()), pin: z.string().min(4) });
    const { dispatcher, answer } = setup(service, 250, { echo: schema });
    dispatcher.handle({ t: 'call', id: 1, method: 'echo', params: { id: 'AB', pin: '1234', extra: 1 } });
    dispatcher.handle({ t: 'call', id: 2, method: 'echo', params: { id: 'AB', pin: '99' } });
    await dispatcher.drain();
    expect(answer(1)).toMatchObject({ t: 'result', result: { id: 'ab', pin: '1234' } });
    expect(seen).toEqual([{ id: 'ab', pin: '1234' }]);
    const refused = answer(2);
    expect(refused).toMatchObject({ t: 'error', error: { code: 'VALIDATION' } });
    expect(JSON.stringify(refused)).toContain('pin');
    expect(JSON.stringify(refused)).not.toContain('"99"');
  });

  it('answers a malformed call with VALIDATION and ignores garbage without crashing', async () => {
    const { dispatcher, answer, sent, logs } = setup(new Service());
    dispatcher.handle({ t: 'call', id: 4, method: 'slow', params: 'not-an-object' });
    dispatcher.handle('garbage');
    dispatcher.handle(undefined);
    await dispatcher.drain();
    expect(answer(4)).toMatchObject({ t: 'error', error: { code: 'VALIDATION' } });
    expect(sent.filter((m) => m.t !== 'event')).toHaveLength(1);
    expect(logs.filter((r) => r.level === 'warn')).toHaveLength(3);
  });

  it('answers INTERNAL when a result cannot cross the process boundary', async () => {
    const { dispatcher, answer } = setup(new Service());
    dispatcher.handle({ t: 'call', id: 5, method: 'unclonable' });
    await dispatcher.drain();
    expect(answer(5)).toMatchObject({
      t: 'error',
      error: { code: 'INTERNAL', details: { reason: 'unserializable result' } },
    });
  });
});
