import { describe, expect, it } from 'vitest';
import { createTokenLossRefiner } from '../../../electron/hsm/host/token-loss.host';
import type { SlotSummary } from '../../../shared/tokens.std';

const slot = (slotId: number, token: 'ok' | 'error' | null, tokenPresent = token !== null) =>
  ({
    slotId,
    flags: { tokenPresent, removableDevice: true, hardwareSlot: true },
    token: token === null ? null : { serial: 'S', flags: { errorState: token === 'error' } },
  }) as unknown as SlotSummary;

const failed = { code: 'FUNCTION_FAILED', message: 'x', details: { ckr: 'CKR_GENERAL_ERROR' } } as const;
const call = (method: string, params?: object) => ({ t: 'call' as const, id: 1, method, params });

describe('a generic failure on a slot whose token is gone', () => {
  it.each([
    ['no token any more', [slot(1, null)]],
    ['the slot itself vanished', [slot(2, 'ok')]],
    ['the token reports an error state', [slot(1, 'error')]],
  ])('becomes TOKEN_REMOVED when %s', async (_name, slots) => {
    const refine = createTokenLossRefiner({ listSlots: async () => slots });
    await expect(refine(call('generateKey', { slotId: 1 }), failed)).resolves.toEqual({
      code: 'TOKEN_REMOVED',
      message: expect.any(String),
      details: { slotId: 1, cause: 'CKR_GENERAL_ERROR' },
    });
  });

  it('stays as it was while the token is still there, or when nothing more can be learned', async () => {
    const present = createTokenLossRefiner({ listSlots: async () => [slot(1, 'ok')] });
    await expect(present(call('generateKey', { slotId: 1 }), failed)).resolves.toBe(failed);
    const broken = createTokenLossRefiner({
      listSlots: async () => {
        throw new Error('library gone');
      },
    });
    await expect(broken(call('generateKey', { slotId: 1 }), failed)).resolves.toBe(failed);
  });

  it('leaves specific errors and calls without a slot alone, without asking the token', async () => {
    let asked = 0;
    const refine = createTokenLossRefiner({ listSlots: async () => (asked++, []) });
    const pin = { code: 'PIN_INCORRECT', message: 'x' } as const;
    await expect(refine(call('login', { slotId: 1 }), pin)).resolves.toBe(pin);
    await expect(refine(call('wellKnownModules'), failed)).resolves.toBe(failed);
    expect(asked).toBe(0);
  });
});
