import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { MkmError, type ErrorCode } from '../../../shared/errors.std';
import { issueLines } from '../../../shared/formats/schemas.std';
import { secureResponseSchema } from '../../crypto/envelope.nodejs';
import { answer, b64, ClientPart, sha256Hex, type GatewayClientContext } from './client-context.nodejs';
import { GatewayHttpError, type JsonResponse } from './https.nodejs';
import type { ActiveSet, KeySetInfo, KeySets } from './key-sets.nodejs';
import { openInToken, sealInToken } from './token-envelope.nodejs';

/** Secure messages: sealed and opened in the token under a one-use key set. */

export interface SecureResult<T = unknown> {
  setId: string;
  response: T;
  /** The set the answer handed over: installed, or refused (the next call asks for a fresh one). */
  nextKeySet: KeySetInfo | { refused: ErrorCode };
}

export type PayloadFieldName = 'card_number' | 'expiration' | 'cvv' | 'account_number' | 'routing_number';
export type PayloadFields = Partial<Record<PayloadFieldName, string>>;

export interface PayloadVerdict {
  received: boolean;
  length?: number;
  last4?: string;
  tag?: string;
  luhn_ok?: boolean;
  aba_ok?: boolean;
}

export interface VerifyPayloadResult {
  setId: string;
  fields: Partial<Record<PayloadFieldName, PayloadVerdict>>;
  /** For fields that get a tag: whether the gateway's tag matches HMAC-SHA256(salt, value) here. */
  tagMatches: Partial<Record<PayloadFieldName, boolean>>;
  nextKeySet: SecureResult['nextKeySet'];
}

const PingAnswer = z.object({ pong: z.literal(true), server_time: z.string() });
const PayloadVerdictSchema = z.object({
  received: z.boolean(),
  length: z.number().int().nonnegative().optional(),
  last4: z.string().max(4).optional(),
  tag: sha256Hex.optional(),
  luhn_ok: z.boolean().optional(),
  aba_ok: z.boolean().optional(),
});
const VerifyPayloadAnswer = z.object({ fields: z.record(z.string(), PayloadVerdictSchema) });
const SecureEnvelope = secureResponseSchema().omit({ next_key_set: true });

const TAGGED: readonly PayloadFieldName[] = ['card_number', 'account_number', 'routing_number'];

class SetLost extends Error {}

export class SecureMessages extends ClientPart {
  constructor(
    ctx: GatewayClientContext,
    private readonly keySets: KeySets,
  ) {
    super(ctx);
  }

  /**
   * One secure message: encrypted and MACed in the token under a one-use set, the answer's MAC
   * checked in the token before it is decrypted there. A refused set (KEY_SET_USED, _EXPIRED,
   * _UNKNOWN) is replaced by the set the refusal carries and the message sent once more.
   */
  secure<T = unknown>(operation: string, body: Record<string, unknown>): Promise<SecureResult<T>> {
    if (!/^[a-z_]{1,64}$/.test(operation)) {
      return Promise.reject(
        new MkmError('VALIDATION', 'Unknown secure operation.', { operation: operation.slice(0, 64) }),
      );
    }
    return this.exclusive(async () => {
      for (let attempt = 0; ; attempt++) {
        const set = await this.keySets.usableSet();
        try {
          return (await this.sendOnce(operation, body, set)) as SecureResult<T>;
        } catch (error) {
          if (attempt === 0 && error instanceof SetLost) continue;
          if (
            attempt === 0 &&
            error instanceof MkmError &&
            ['KEY_SET_USED', 'KEY_SET_EXPIRED', 'KEY_SET_UNKNOWN'].includes(error.code)
          ) {
            continue;
          }
          if (error instanceof SetLost) {
            throw new MkmError('KEY_NOT_FOUND', 'The key set is no longer in the token; try again.');
          }
          throw error;
        }
      }
    });
  }

  private async sendOnce(
    operation: string,
    body: Record<string, unknown>,
    set: ActiveSet,
  ): Promise<SecureResult> {
    const keys = { slotId: this.slotId, setId: set.setId, encKeyId: set.encKeyId, macKeyId: set.macKeyId };
    let sealed;
    try {
      sealed = await sealInToken(this.tokens, keys, Buffer.from(set.iv, 'base64'), body);
    } catch (error) {
      // Nothing was sent. Objects gone while logged in (host restarted): the set is lost, not
      // used. Logged out or another token failure: reported as such; the next attempt decides.
      const explained = await this.explainTokenError(error);
      if (this.codeOf(explained) === 'KEY_NOT_FOUND') {
        await this.keySets.discardSet('token-lost').catch(() => undefined);
        throw new SetLost();
      }
      throw explained;
    }

    // From here the set counts as used, whatever happens to the request.
    this.keySets.set = null;
    this.store.update((s) => void s.usedSetIds.push(set.setId));
    const done = async (reason: string) => {
      await this.keySets.discardSet(reason, set).catch(() => undefined);
    };

    let reply: JsonResponse;
    try {
      reply = await this.session.call({
        method: 'POST',
        path: `/v1/secure/${operation}`,
        json: sealed,
      });
    } catch (error) {
      await done('sent');
      this.audit({
        action: 'secure.send',
        result: 'error',
        operation,
        setId: set.setId,
        code: this.codeOf(error),
      });
      // Refusals from the set check on carry the next set: install it for the retry or the next call.
      if (error instanceof GatewayHttpError && typeof error.body === 'object' && error.body !== null) {
        const carried = (error.body as { next_key_set?: unknown }).next_key_set;
        if (carried !== undefined) await this.keySets.installOrRefuse(carried);
      }
      if (error instanceof MkmError && error.code === 'MAC_INVALID') {
        throw new MkmError('MAC_INVALID', 'The gateway could not authenticate the message.', {
          side: 'request',
          setId: set.setId,
        });
      }
      throw error;
    }

    this.observe(reply);
    try {
      // The next set is checked on its own by install(): a bad one must not cost the answer.
      const parsed = SecureEnvelope.safeParse(reply.body);
      if (!parsed.success) {
        throw new MkmError('GATEWAY_BAD_RESPONSE', 'The secure answer has the wrong shape.', {
          reason: 'envelope',
          issues: issueLines(parsed.error),
        });
      }
      const envelope = parsed.data;
      if (envelope.set_id !== set.setId) {
        throw new MkmError('GATEWAY_BAD_RESPONSE', 'The secure answer is for another key set.', {
          reason: 'set-id',
        });
      }
      const response = await openInToken(this.tokens, keys, envelope);
      await done('used');
      this.audit({ action: 'secure.send', result: 'ok', operation, setId: set.setId });
      const nextKeySet = await this.keySets.installOrRefuse(
        (reply.body as { next_key_set?: unknown }).next_key_set,
      );
      return { setId: set.setId, response, nextKeySet };
    } catch (error) {
      await done('used');
      this.audit({
        action: 'secure.send',
        result: 'refused',
        operation,
        setId: set.setId,
        code: this.codeOf(error),
      });
      throw error;
    }
  }

  /** Secure `ping`. */
  async ping(): Promise<SecureResult<{ pong: true; serverTime: string }>> {
    const result = await this.secure('ping', {});
    const body = answer(PingAnswer, result.response, 'ping');
    return { ...result, response: { pong: true, serverTime: body.server_time } };
  }

  /**
   * The payload console's round trip. `salt` (16+ bytes) is fresh per call when not given; the
   * gateway's tags are checked here against HMAC-SHA256(salt, value).
   */
  async verifyPayload(fields: PayloadFields, salt?: Uint8Array): Promise<VerifyPayloadResult> {
    const saltBytes = salt ?? randomBytes(16);
    if (saltBytes.length < 16)
      throw new MkmError('VALIDATION', 'The salt needs at least 16 bytes.', { field: 'salt' });
    const result = await this.secure('verify_payload', { salt: b64(saltBytes), fields });
    const body = answer(VerifyPayloadAnswer, result.response, 'verify_payload');
    const tagMatches: VerifyPayloadResult['tagMatches'] = {};
    for (const name of TAGGED) {
      const value = fields[name];
      const given = body.fields[name]?.tag;
      if (value === undefined) continue;
      const expected = createHmac('sha256', saltBytes).update(value, 'utf8').digest();
      tagMatches[name] = given !== undefined && timingSafeEqual(expected, Buffer.from(given, 'hex'));
    }
    return {
      setId: result.setId,
      fields: body.fields as VerifyPayloadResult['fields'],
      tagMatches,
      nextKeySet: result.nextKeySet,
    };
  }
}
