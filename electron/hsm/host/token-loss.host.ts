import { MkmError, type MkmErrorShape } from '../../../shared/errors.std';
import type { SlotSummary } from '../../../shared/tokens.std';
import type { CallMessage } from './protocol.std';

/**
 * Libraries report a token that vanished under an open session with whatever generic code they
 * have: SoftHSM2 answers CKR_GENERAL_ERROR once its token directory is gone, a smartcard
 * middleware may say CKR_DEVICE_ERROR. An admin needs "the token was removed", not "the
 * library reported an unrecoverable error", so after such a failure the slot is looked at
 * again, and if its token is no longer there the error says so.
 */
const GENERIC: ReadonlySet<string> = new Set(['FUNCTION_FAILED', 'DEVICE_ERROR', 'PKCS11_ERROR']);

export interface SlotLister {
  listSlots(params?: { tokenPresent?: boolean }): Promise<SlotSummary[]>;
}

export function createTokenLossRefiner(service: SlotLister) {
  return async (call: CallMessage, shape: MkmErrorShape): Promise<MkmErrorShape> => {
    const slotId = (call.params as { slotId?: unknown } | undefined)?.slotId;
    if (!GENERIC.has(shape.code) || typeof slotId !== 'number' || call.method === 'listSlots') return shape;
    let slot: SlotSummary | undefined;
    try {
      slot = (await service.listSlots({})).find((s) => s.slotId === slotId);
    } catch {
      // The library cannot even list its slots: nothing more precise can be said.
      return shape;
    }
    if (slot?.token && slot.flags.tokenPresent && !slot.token.flags.errorState) return shape;
    const cause = typeof shape.details?.ckr === 'string' ? shape.details.ckr : shape.code;
    return new MkmError('TOKEN_REMOVED', undefined, { slotId, cause }).toShape();
  };
}
