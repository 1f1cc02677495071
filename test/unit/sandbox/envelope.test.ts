import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { envelopeMac, openEnvelope, sealEnvelope } from '../../../electron/gateway/sandbox/envelope.nodejs';

const keys = { setId: 'ks_unit', encKey: randomBytes(32), macKey: randomBytes(32) };

describe('envelope', () => {
  it('MACs ASCII(dir) || 0x2e || UTF-8(set_id) || 0x2e || iv || ciphertext (contract 1.1)', () => {
    const iv = randomBytes(16);
    const ct = randomBytes(32);
    for (const dir of ['req', 'rsp'] as const) {
      const expected = createHmac('sha256', keys.macKey)
        .update(Buffer.concat([Buffer.from(`${dir}.ks_unit.`), iv, ct]))
        .digest();
      expect(envelopeMac(keys.macKey, dir, keys.setId, iv, ct).equals(expected)).toBe(true);
    }
  });

  it('an answer it sealed does not open as a request (a reflected message fails)', () => {
    const s = sealEnvelope(keys, Buffer.from('{"a":1}'));
    expect(openEnvelope(keys, s.iv, s.ciphertext, s.mac)).toBeNull();
    const asRequest = envelopeMac(keys.macKey, 'req', keys.setId, s.iv, s.ciphertext);
    expect(openEnvelope(keys, s.iv, s.ciphertext, asRequest)?.toString()).toBe('{"a":1}');
  });

  it('seals under a fresh IV each time', () => {
    const a = sealEnvelope(keys, Buffer.from('{"a":1}'));
    const b = sealEnvelope(keys, Buffer.from('{"a":1}'));
    expect(a.iv.equals(b.iv)).toBe(false);
  });

  it('returns null alike for a wrong MAC, a short MAC, another set id and bad padding', () => {
    const sealed = sealEnvelope(keys, Buffer.from('{}'));
    const s = { ...sealed, mac: envelopeMac(keys.macKey, 'req', keys.setId, sealed.iv, sealed.ciphertext) };
    expect(openEnvelope(keys, s.iv, s.ciphertext, s.mac)?.toString()).toBe('{}');
    const flipped = Buffer.from(s.mac);
    flipped[31]! ^= 1;
    expect(openEnvelope(keys, s.iv, s.ciphertext, flipped)).toBeNull();
    expect(openEnvelope(keys, s.iv, s.ciphertext, s.mac.subarray(0, 16))).toBeNull();
    expect(openEnvelope({ ...keys, setId: 'ks_other' }, s.iv, s.ciphertext, s.mac)).toBeNull();
    const c = createCipheriv('aes-256-cbc', keys.encKey, s.iv).setAutoPadding(false);
    const badPad = Buffer.concat([c.update(Buffer.alloc(16, 0x20)), c.final()]);
    expect(
      openEnvelope(keys, s.iv, badPad, envelopeMac(keys.macKey, 'req', keys.setId, s.iv, badPad)),
    ).toBeNull();
  });
});
