import { describe, expect, it } from 'vitest';
import { parseHostMessage, parseParentMessage } from '../../../electron/hsm/host/protocol.std';

describe('messages from main, as the host reads them', () => {
  it('accepts a call and a shutdown', () => {
    expect(parseParentMessage({ t: 'call', id: 7, method: 'listSlots' })).toEqual({
      ok: true,
      message: { t: 'call', id: 7, method: 'listSlots', params: undefined },
    });
    expect(
      parseParentMessage({ t: 'call', id: 1, method: 'login', params: { slotId: 1, pin: 'x' } }).ok,
    ).toBe(true);
    expect(parseParentMessage({ t: 'shutdown' })).toEqual({ ok: true, message: { t: 'shutdown' } });
  });

  it.each([
    ['not an object', 'call'],
    ['null', null],
    ['an array', [1, 2]],
    ['an unknown type', { t: 'eval', id: 1 }],
    ['a call without id', { t: 'call', method: 'listSlots' }],
    ['a fractional id', { t: 'call', id: 1.5, method: 'listSlots' }],
    ['a zero id', { t: 'call', id: 0, method: 'listSlots' }],
  ])('refuses %s', (_name, raw) => {
    expect(parseParentMessage(raw).ok).toBe(false);
  });

  it.each([['__proto__'], ['Constructor'], ['a.b'], [''], [42], ['x'.repeat(65)]])(
    'refuses method name %j and still names the call so it can be answered',
    (method) => {
      expect(parseParentMessage({ t: 'call', id: 3, method })).toMatchObject({ ok: false, id: 3 });
    },
  );

  it('refuses params that are not a plain object', () => {
    expect(parseParentMessage({ t: 'call', id: 4, method: 'login', params: ['1234'] })).toMatchObject({
      ok: false,
      id: 4,
    });
    expect(parseParentMessage({ t: 'call', id: 4, method: 'login', params: 'pin' })).toMatchObject({
      ok: false,
      id: 4,
    });
  });
});

describe('messages from the host, as main reads them', () => {
  it('accepts results, typed errors and the three events', () => {
    for (const raw of [
      { t: 'result', id: 1, result: { ok: true } },
      { t: 'error', id: 1, error: { code: 'PIN_INCORRECT', message: 'The PIN is incorrect.' } },
      { t: 'event', name: 'ready', pid: 123, protocol: 1 },
      { t: 'event', name: 'progress', id: 1, phase: 'running', elapsedMs: 250 },
      { t: 'event', name: 'log', record: { level: 'info', msg: 'hi', time: 'now' } },
    ]) {
      expect(parseHostMessage(raw), JSON.stringify(raw)).toMatchObject({ ok: true, message: raw });
    }
  });

  it.each([
    ['an error with an unknown code', { t: 'error', id: 2, error: { code: 'EVIL', message: 'x' } }, 2],
    ['an error without a message', { t: 'error', id: 2, error: { code: 'INTERNAL' } }, 2],
    ['a result without id', { t: 'result', result: 1 }, undefined],
    [
      'progress with a made-up phase',
      { t: 'event', name: 'progress', id: 5, phase: 'done', elapsedMs: 1 },
      5,
    ],
    [
      'progress with negative time',
      { t: 'event', name: 'progress', id: 5, phase: 'running', elapsedMs: -1 },
      5,
    ],
    [
      'a log record with an unknown level',
      { t: 'event', name: 'log', record: { level: 'trace', msg: 'x' } },
      undefined,
    ],
    ['ready without pid', { t: 'event', name: 'ready', protocol: 1 }, undefined],
    ['an unknown event', { t: 'event', name: 'boom' }, undefined],
    ['a string', 'result', undefined],
  ])('refuses %s', (_name, raw, id) => {
    const parsed = parseHostMessage(raw);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok === false && parsed.id).toBe(id);
  });
});
