import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacKcv } from '../../../electron/crypto/kcv.nodejs';
import { HmacSealer } from '../../../electron/audit/software-sealer.nodejs';
import { createTokenSealer } from '../../../electron/audit/token-sealer.nodejs';
import type { TokenMacCall } from '../../../electron/audit/token-sealer.nodejs';
import { verifyAuditLog } from '../../../electron/audit/audit-log.nodejs';
import { openLog, tempDir } from './fixtures';

const KEY = Buffer.alloc(32, 7);

/** Stands in for TokenEngine.hmacSign: HMAC-SHA256 over base64 data, base64 out. */
function fakeToken(calls: number[] = []): TokenMacCall {
  return async (op, keyId, data) => {
    expect(op).toBe('sign');
    expect(keyId).toBe('a0d170');
    calls.push(data.length);
    return data.map((d) => createHmac('sha256', KEY).update(Buffer.from(d, 'base64')).digest('base64'));
  };
}

describe('HmacSealer (tests and benches only)', () => {
  it('is HMAC-SHA256 with the KCV of its key', async () => {
    const sealer = new HmacSealer({ key: KEY, id: 'a0d170' });
    expect(sealer.keyRef).toEqual({ id: 'a0d170', kcv: hmacKcv(KEY) });
    const [mac] = await sealer.macBatch([Buffer.from('abc')]);
    expect(mac).toEqual(createHmac('sha256', KEY).update('abc').digest());
    expect(await sealer.verifyBatch([Buffer.from('abc'), Buffer.from('abd')], [mac!, mac!])).toEqual([
      true,
      false,
    ]);
  });
});

describe('createTokenSealer', () => {
  it('sends base64 batches, splits large ones, and gives the same MACs as the key', async () => {
    const calls: number[] = [];
    const sealer = createTokenSealer({
      keyRef: { id: 'A0D170', kcv: 'ABCDEF' },
      call: fakeToken(calls),
      maxBatch: 4,
    });
    expect(sealer.keyRef).toEqual({ id: 'a0d170', kcv: 'abcdef' });
    const messages = Array.from({ length: 10 }, (_, i) => Buffer.from(`m${i}`));
    const macs = await sealer.macBatch(messages);
    expect(calls).toEqual([4, 4, 2]);
    expect(macs[9]).toEqual(createHmac('sha256', KEY).update('m9').digest());
    const flipped = Buffer.from(macs[3]!);
    flipped[0]! ^= 1;
    const results = await sealer.verifyBatch!(messages.slice(0, 5), [...macs.slice(0, 3), flipped, macs[4]!]);
    expect(results).toEqual([true, true, true, false, true]);
  });

  it('refuses answers that would make a seal that can never verify', async () => {
    const short = createTokenSealer({ keyRef: { id: 'a0d170', kcv: 'abcdef' }, call: async () => [] });
    await expect(short.macBatch([Buffer.from('x')])).rejects.toMatchObject({ code: 'FUNCTION_FAILED' });
    const truncated = createTokenSealer({
      keyRef: { id: 'a0d170', kcv: 'abcdef' },
      call: async (_op, _id, data) => data.map(() => Buffer.alloc(20).toString('base64')),
    });
    await expect(truncated.macBatch([Buffer.from('x')])).rejects.toMatchObject({ code: 'FUNCTION_FAILED' });
  });

  it('passes token errors through, so the log stays unsealed rather than broken', async () => {
    const sealer = createTokenSealer({
      keyRef: { id: 'a0d170', kcv: hmacKcv(KEY) },
      call: async () => {
        throw Object.assign(new Error('CKR_USER_NOT_LOGGED_IN'), { code: 'NOT_LOGGED_IN' });
      },
    });
    const dir = tempDir();
    const log = await openLog(dir, sealer);
    log.append({ action: 'key.use', result: 'ok' });
    await expect(log.seal()).rejects.toMatchObject({ code: 'NOT_LOGGED_IN' });
    await log.close();
    const good = createTokenSealer({ keyRef: { id: 'a0d170', kcv: hmacKcv(KEY) }, call: fakeToken() });
    expect(await verifyAuditLog({ dir, sealer: good })).toMatchObject({
      ok: true,
      unsealed: 3,
      sealedThrough: 0,
    });
  });

  it('a log sealed through the adapter verifies with the software sealer holding the same key', async () => {
    const dir = tempDir();
    const token = createTokenSealer({ keyRef: { id: 'a0d170', kcv: hmacKcv(KEY) }, call: fakeToken() });
    const log = await openLog(dir, token);
    for (let i = 0; i < 30; i++) log.append({ action: 'key.use', result: 'ok' });
    await log.close();
    const report = await verifyAuditLog({ dir, sealer: new HmacSealer({ key: KEY, id: 'a0d170' }) });
    expect(report).toMatchObject({ ok: true, sealsVerified: true, unsealed: 0 });
    const wrongKey = await verifyAuditLog({
      dir,
      sealer: new HmacSealer({ key: Buffer.alloc(32, 8), id: 'a0d170' }),
    });
    expect(wrongKey.ok).toBe(false);
  });
});
