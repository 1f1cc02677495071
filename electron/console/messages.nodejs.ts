import type {
  ConsoleDecryptResult,
  ConsoleMessageResult,
  EnvelopePart,
} from '../../shared/contract/console.std';
import { MkmError } from '../../shared/errors.std';
import { parseBase64 } from '../../shared/formats/encoding.std';
import { macInput } from '../crypto/envelope.nodejs';
import { requireCapability } from '../hsm/capability-guard.nodejs';
import { b64len, type ConsoleContext } from './console-context.nodejs';

/**
 * Key-rolling messages: a text sealed (AES-256-CBC + HMAC-SHA256) under the profile's current
 * key set inside the token, and an envelope checked and opened the same way.
 */

export function envelopeParts(
  e: { set_id: string; iv: string; ciphertext: string; mac: string },
  ivSource: 'set' | 'token' | 'given',
): EnvelopePart[] {
  const ivWhy = {
    set: "The key set's own IV, handed over by the gateway with the keys: a request under this set must use exactly this IV, and only once.",
    token:
      "16 fresh random bytes from the token's generator, sent with the message (as the gateway does for its answers), so no key and IV pair is ever used twice.",
    given: 'The IV the message came with (a gateway answer carries its own fresh IV).',
  }[ivSource];
  return [
    {
      name: 'set_id',
      value: e.set_id,
      bytes: Buffer.byteLength(e.set_id, 'utf8'),
      explanation:
        'Names the one-use key set whose keys sealed the message. The gateway looks the set up by it and refuses a set used before or expired.',
    },
    { name: 'iv', value: e.iv, bytes: b64len(e.iv), explanation: ivWhy },
    {
      name: 'ciphertext',
      value: e.ciphertext,
      bytes: b64len(e.ciphertext),
      explanation:
        "AES-256-CBC of the UTF-8 message with PKCS#7 padding, under the set's encryption key inside the token: always a multiple of 16 bytes.",
    },
    {
      name: 'mac',
      value: e.mac,
      bytes: b64len(e.mac),
      explanation:
        "HMAC-SHA256 under the set's MAC key over UTF-8(set_id) || '.' || iv || ciphertext. Checked before anything is decrypted, so a changed byte is refused without a padding oracle.",
    },
  ];
}

/** The client's current set and the token objects behind it (ids only). */
async function currentSet(ctx: ConsoleContext, profileId: string, orRequest: boolean) {
  const profile = ctx.profile(profileId);
  if (!profile.keyRolling) {
    throw new MkmError('VALIDATION', 'This profile does not use key-rolling messages.', { profileId });
  }
  const client = await ctx.deps.gateway.consoleClient(profileId, { needsLogin: true });
  let info = client.currentKeySet();
  if (info && ctx.spentSets.has(info.setId) && orRequest) info = await client.requestKeySet();
  if (!info) {
    if (!orRequest) {
      throw new MkmError(
        'NOT_FOUND',
        'No key set is in the token for this profile; encrypt a message first.',
        {
          profileId,
          reason: 'no-key-set',
        },
      );
    }
    info = await client.requestKeySet();
  }
  const record = ctx.deps.gateway.readState(profileId).keySet;
  if (!record || record.setId !== info.setId) {
    throw new MkmError('KEY_NOT_FOUND', 'The key set changed while it was being read; try again.', {
      profileId,
    });
  }
  return { client, info, record, slotId: await ctx.loggedInSlot() };
}

export async function encryptMessage(
  ctx: ConsoleContext,
  request: {
    profileId: string;
    text: string;
    ivSource?: 'set' | 'token' | undefined;
  },
): Promise<ConsoleMessageResult> {
  await requireCapability(ctx.deps.tokens, await ctx.loggedInSlot(), 'console-message');
  const ivSource = request.ivSource ?? 'token';
  const { info, record, slotId } = await currentSet(ctx, request.profileId, true);
  const { tokens } = ctx.deps;
  const iv =
    ivSource === 'set'
      ? Buffer.from(record.iv, 'base64')
      : Buffer.from((await tokens.call('generateRandom', { slotId, length: 16 })).data, 'base64');
  const plain = Buffer.from(request.text, 'utf8');
  let ciphertext: Buffer;
  try {
    const encrypted = await tokens.call('encrypt', {
      slotId,
      id: record.encKeyId,
      mechanism: 'AES_CBC_PAD',
      iv: iv.toString('base64'),
      data: plain.toString('base64'),
    });
    ciphertext = Buffer.from(encrypted.data, 'base64');
  } finally {
    plain.fill(0);
  }
  const { mac } = await tokens.call('hmacSign', {
    slotId,
    id: record.macKeyId,
    data: macInput('req', info.setId, iv, ciphertext).toString('base64'),
  });
  const notes: string[] = [];
  if (Date.parse(info.expiresAt) <= Date.now()) {
    notes.push(`This set expired at ${info.expiresAt}: the gateway would answer KEY_SET_EXPIRED.`);
  }
  if (ivSource === 'set') {
    // The set's key and IV now sealed a message that is not sent; a real request must not reuse them.
    ctx.spentSets.add(info.setId);
    notes.push(
      "This envelope is exactly the request the gateway would accept under this set. The set's IV is now used; the console asks for a fresh set before its next message.",
    );
  }
  const envelope = {
    set_id: info.setId,
    iv: iv.toString('base64'),
    ciphertext: ciphertext.toString('base64'),
    mac,
  };
  ctx.history.add({
    kind: 'message',
    profileId: request.profileId,
    scheme: 'aes-256-cbc+hmac-sha256',
    outcome: 'ok',
    summary: `sealed ${Buffer.byteLength(request.text, 'utf8')} bytes under set ${info.setId}`,
  });
  ctx.remember({
    kind: 'message',
    profileId: request.profileId,
    scheme: 'aes-256-cbc+hmac-sha256',
    keyFingerprint: null,
    keyId: info.wrappingKeyId,
    setId: info.setId,
    lengths: { iv: iv.length, ciphertext: ciphertext.length, mac: b64len(mac) },
  });
  return {
    profileId: request.profileId,
    setId: info.setId,
    wrappingKeyId: info.wrappingKeyId,
    expiresAt: info.expiresAt,
    ivSource,
    envelope,
    parts: envelopeParts(envelope, ivSource),
    plaintextBytes: Buffer.byteLength(request.text, 'utf8'),
    notes,
  };
}

export async function decryptMessage(
  ctx: ConsoleContext,
  request: {
    profileId: string;
    envelope: { set_id: string; iv?: string | undefined; ciphertext: string; mac: string };
  },
): Promise<ConsoleDecryptResult> {
  await requireCapability(ctx.deps.tokens, await ctx.loggedInSlot(), 'console-message');
  const { info, record, slotId } = await currentSet(ctx, request.profileId, false);
  const e = request.envelope;
  if (e.set_id !== info.setId) {
    throw new MkmError(
      'KEY_SET_UNKNOWN',
      `The envelope names set ${e.set_id.slice(0, 128)}, but the token holds set ${info.setId} for this profile. A set lives in the token of the process that received it, and each set seals one message.`,
      { envelopeSetId: e.set_id.slice(0, 128), currentSetId: info.setId },
    );
  }
  const ivText = e.iv ?? record.iv;
  const iv = parseBase64(ivText, { length: 16 });
  const parsedCiphertext = parseBase64(e.ciphertext);
  const ciphertext =
    parsedCiphertext.ok && parsedCiphertext.bytes.length >= 16 && parsedCiphertext.bytes.length % 16 === 0
      ? parsedCiphertext
      : ({ ok: false } as const);
  const mac = parseBase64(e.mac, { length: 32 });
  const invalid = (why: string) => new MkmError('MAC_INVALID', why, { setId: info.setId });
  if (!iv.ok) throw new MkmError('VALIDATION', 'The IV must be 16 bytes of base64.', { field: 'iv' });
  if (!ciphertext.ok) {
    throw new MkmError('VALIDATION', 'The ciphertext must be base64 of a whole number of 16-byte blocks.', {
      field: 'ciphertext',
    });
  }
  if (!mac.ok) throw new MkmError('VALIDATION', 'The MAC must be 32 bytes of base64.', { field: 'mac' });
  const { tokens } = ctx.deps;
  const verified = await tokens.call('hmacVerify', {
    slotId,
    id: record.macKeyId,
    data: macInput('req', e.set_id, iv.bytes, ciphertext.bytes).toString('base64'),
    mac: Buffer.from(mac.bytes).toString('base64'),
  });
  if (!verified.valid) {
    throw invalid(
      'The MAC does not match: the envelope was changed, or made with another set, IV or MAC key. Nothing was decrypted.',
    );
  }
  let clear: Buffer;
  try {
    clear = Buffer.from(
      (
        await tokens.call('decrypt', {
          slotId,
          id: record.encKeyId,
          mechanism: 'AES_CBC_PAD',
          iv: Buffer.from(iv.bytes).toString('base64'),
          data: Buffer.from(ciphertext.bytes).toString('base64'),
        })
      ).data,
      'base64',
    );
  } catch (error) {
    if (
      error instanceof MkmError &&
      ['ENCRYPTED_DATA_INVALID', 'DATA_LEN_RANGE', 'DATA_INVALID'].includes(error.code)
    ) {
      throw invalid('The MAC matched but the padding did not: the sender used another encryption key.');
    }
    throw error;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(clear);
  } catch {
    throw invalid('The MAC matched but the message is not UTF-8 text.');
  } finally {
    clear.fill(0);
  }
  let json = false;
  try {
    JSON.parse(text);
    json = true;
  } catch {
    json = false;
  }
  const envelope = { set_id: e.set_id, iv: ivText, ciphertext: e.ciphertext, mac: e.mac };
  return {
    profileId: request.profileId,
    setId: info.setId,
    macOk: true,
    text,
    json,
    parts: envelopeParts(envelope, e.iv === undefined ? 'set' : 'given'),
  };
}
