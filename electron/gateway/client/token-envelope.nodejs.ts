import { MkmError } from '../../../shared/errors.std';
import { macInput } from '../../crypto/envelope.nodejs';
import type { HsmMethodName, HsmParams, HsmResult } from '../../hsm/host/protocol.std';

/**
 * The contract's secure envelope computed inside the token: electron/crypto/envelope.nodejs.ts
 * does the same arithmetic on clear keys (for the sandbox and tests); here the keys are token
 * objects named by CKA_ID and never leave it.
 *   ciphertext = AES-256-CBC(enc_key, iv, PKCS#7(UTF-8 JSON))      (C_Encrypt, CKM_AES_CBC_PAD)
 *   mac        = HMAC-SHA256(mac_key, dir || 0x2e || UTF-8(set_id) || 0x2e || iv || ciphertext)   (C_Sign)
 * with dir `req` on what we send and `rsp` on what we open (contract 1.1).
 * Opening verifies the MAC in the token (C_Verify) before anything is decrypted, and answers
 * every failure after that (padding, UTF-8, JSON) with the same MAC_INVALID.
 */

/** What the envelope needs from the token: TokensService, HsmClient or an adapter. */
export interface TokenCaller {
  call<K extends HsmMethodName>(method: K, params: HsmParams<K>): Promise<HsmResult<K>>;
}

export interface TokenSetKeys {
  slotId: number;
  setId: string;
  /** CKA_ID (hex) of the AES-256 key. */
  encKeyId: string;
  /** CKA_ID (hex) of the HMAC generic secret. */
  macKeyId: string;
}

export interface SealedEnvelope {
  set_id: string;
  /** base64 */
  ciphertext: string;
  /** base64 */
  mac: string;
}

/** Encrypt and MAC one JSON request body under the set's keys and IV. */
export async function sealInToken(
  tokens: TokenCaller,
  keys: TokenSetKeys,
  iv: Uint8Array,
  body: unknown,
): Promise<SealedEnvelope> {
  const plain = Buffer.from(JSON.stringify(body), 'utf8');
  let ciphertext: Buffer;
  try {
    const encrypted = await tokens.call('encrypt', {
      slotId: keys.slotId,
      id: keys.encKeyId,
      mechanism: 'AES_CBC_PAD',
      iv: Buffer.from(iv).toString('base64'),
      data: plain.toString('base64'),
    });
    ciphertext = Buffer.from(encrypted.data, 'base64');
  } finally {
    plain.fill(0);
  }
  const { mac } = await tokens.call('hmacSign', {
    slotId: keys.slotId,
    id: keys.macKeyId,
    data: macInput('req', keys.setId, iv, ciphertext).toString('base64'),
  });
  return { set_id: keys.setId, ciphertext: ciphertext.toString('base64'), mac };
}

const DECRYPT_FAILURES = ['ENCRYPTED_DATA_INVALID', 'DATA_LEN_RANGE', 'DATA_INVALID'];

/**
 * Check the MAC of an answer (over its own `iv`) in the token, then decrypt and parse it.
 * MAC_INVALID with `side: 'response'` for anything wrong.
 */
export async function openInToken(
  tokens: TokenCaller,
  keys: TokenSetKeys,
  message: { set_id: string; iv: Uint8Array; ciphertext: Uint8Array; mac: Uint8Array },
): Promise<unknown> {
  const invalid = (why: string) => new MkmError('MAC_INVALID', why, { side: 'response', setId: keys.setId });
  if (message.set_id !== keys.setId) throw invalid('The answer names another key set.');
  const verified = await tokens.call('hmacVerify', {
    slotId: keys.slotId,
    id: keys.macKeyId,
    data: macInput('rsp', message.set_id, message.iv, message.ciphertext).toString('base64'),
    mac: Buffer.from(message.mac).toString('base64'),
  });
  if (!verified.valid) throw invalid("The gateway's answer failed its authentication check.");
  let bytes: Buffer;
  try {
    const clear = await tokens.call('decrypt', {
      slotId: keys.slotId,
      id: keys.encKeyId,
      mechanism: 'AES_CBC_PAD',
      iv: Buffer.from(message.iv).toString('base64'),
      data: Buffer.from(message.ciphertext).toString('base64'),
    });
    bytes = Buffer.from(clear.data, 'base64');
  } catch (error) {
    if (error instanceof MkmError && !DECRYPT_FAILURES.includes(error.code)) throw error;
    throw invalid("The gateway's answer could not be decrypted.");
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch {
    throw invalid("The gateway's answer is not UTF-8 JSON.");
  } finally {
    bytes.fill(0);
  }
}
