import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macInput } from '../../../electron/crypto/envelope.nodejs';
import {
  FAILURE_CODES,
  FAILURE_MODES,
  type FailureCode,
} from '../../../electron/console/diagnose/failure-modes.std';
import type { Diagnosis } from '../../../shared/contract/troubleshoot.std';
import { createDiagnoseHarness, otherRsaKey, rsaEncrypt, type DiagnoseHarness } from './diagnose-harness';

/**
 * Every row of the failure-mode table, produced for real (SoftHSM2 keys, the sandbox gateway's
 * keys and key sets, its verify endpoint) and diagnosed through the app's registry: the first
 * finding must name that row. The order matters where the state moves on: envelopes under the
 * live key set before the set is used and expired, the gateway key rotation last.
 */

let h: DiagnoseHarness;
const PAN = '4111111111111111';

interface KeySetState {
  setId: string;
  iv: string;
  encKeyId: string;
  macKeyId: string;
}
const keySet = (): KeySetState =>
  (
    JSON.parse(readFileSync(join(h.dataDir, 'gateway', 'gateway-sandbox.json'), 'utf8')) as {
      keySet: KeySetState;
    }
  ).keySet;

/** An envelope made under the live set's keys in the token, with a chosen IV, padding and MAC. */
async function sealed(options: { iv?: Buffer; raw?: Buffer; corruptMac?: boolean } = {}) {
  const set = keySet();
  const setIv = Buffer.from(set.iv, 'base64');
  const slotId = h.token.slotId;
  const plain =
    options.raw ??
    Buffer.from(JSON.stringify({ operation: 'ping', note: 'a message long enough for two blocks' }));
  const { data } = await h.app.tokens.call('encrypt', {
    slotId,
    id: set.encKeyId,
    mechanism: options.raw ? 'AES_CBC' : 'AES_CBC_PAD',
    iv: (options.iv ?? setIv).toString('base64'),
    data: plain.toString('base64'),
  });
  const ciphertext = Buffer.from(data, 'base64');
  const { mac } = await h.app.tokens.call('hmacSign', {
    slotId,
    id: set.macKeyId,
    data: macInput('req', set.setId, setIv, ciphertext).toString('base64'),
  });
  const macBytes = Buffer.from(mac, 'base64');
  if (options.corruptMac) macBytes[0]! ^= 0x01;
  return JSON.stringify({ set_id: set.setId, ciphertext: data, mac: macBytes.toString('base64') });
}

const gatewayField = (value = PAN, padding: 'pkcs1' | 'oaep256' = 'pkcs1') =>
  rsaEncrypt(h.pinnedPem('sandbox'), value, padding).toString('base64');

type Producer = () => Promise<{ input: string; profileId?: string }>;

/** One producer per row; the Record type fails the typecheck when a row has none. */
const PRODUCERS: Record<FailureCode, Producer> = {
  QUOTED_OR_ESCAPED: async () => ({
    input: JSON.stringify(gatewayField()).replace(/\//g, '\\/'),
    profileId: 'sandbox',
  }),
  WHITESPACE: async () => ({
    input: gatewayField()
      .match(/.{1,64}/g)!
      .join('\n'),
    profileId: 'sandbox',
  }),
  BASE64URL: async () => ({
    input: gatewayField().replace(/\+/g, '-').replace(/\//g, '_'),
    profileId: 'sandbox',
  }),
  MISSING_PADDING: async () => ({ input: gatewayField().replace(/=+$/, ''), profileId: 'sandbox' }),
  HEX_ODD_LENGTH: async () => ({
    input: Buffer.from(gatewayField(), 'base64').toString('hex').slice(1),
    profileId: 'sandbox',
  }),
  HEX_NOT_BASE64: async () => ({
    input: Buffer.from(gatewayField(), 'base64').toString('hex'),
    profileId: 'sandbox',
  }),
  NOT_ENCODED: async () => ({ input: 'encrypted*number#placeholder', profileId: 'sandbox' }),
  DOUBLE_ENCODED: async () => ({
    input: Buffer.from(gatewayField()).toString('base64'),
    profileId: 'sandbox',
  }),
  TRUNCATED: async () => ({ input: gatewayField().slice(0, 200), profileId: 'sandbox' }),
  WRONG_KEY_SIZE: async () => ({
    input: rsaEncrypt(otherRsaKey(1024).publicKey, PAN).toString('base64'),
    profileId: 'sandbox',
  }),
  RSA_WRONG_PADDING: async () => ({ input: gatewayField(PAN, 'oaep256'), profileId: 'sandbox' }),
  // No profile named (there are two): the ciphertext is meant for a merchant key on the token.
  RSA_WRONG_KEY: async () => ({ input: rsaEncrypt(otherRsaKey().publicKey, PAN).toString('base64') }),
  DOUBLE_ENCRYPTED: async () => {
    const inner = rsaEncrypt(otherRsaKey(1024).publicKey, PAN).toString('base64');
    return { input: rsaEncrypt(h.encryptionKey.pem, inner).toString('base64') };
  },
  CSE_PREVIOUS_KEY: async () => {
    throw new Error('produced in the rotation test');
  },
  CSE_NOT_GATEWAY_KEY: async () => ({
    input: JSON.stringify({
      credit_card: { encrypted_number: rsaEncrypt(otherRsaKey().publicKey, PAN).toString('base64') },
    }),
    profileId: 'sandbox',
  }),
  CLEAR_VALUE: async () => ({
    input: JSON.stringify({
      amount: 10,
      credit_card: { number: PAN, expiration_month: '12', expiration_year: '2030' },
    }),
    profileId: 'sandbox',
  }),
  PEM_PRIVATE_KEY: async () => ({
    input: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string,
  }),
  PEM_WRONG_ENVIRONMENT: async () => ({ input: h.pinnedPem('sandbox'), profileId: 'production' }),
  PEM_PREVIOUS_KEY: async () => {
    throw new Error('produced in the rotation test');
  },
  PEM_UNKNOWN_KEY: async () => ({
    input: otherRsaKey().publicKey.export({ type: 'spki', format: 'pem' }) as string,
    profileId: 'sandbox',
  }),
  ENVELOPE_MALFORMED: async () => ({
    input: JSON.stringify({ set_id: keySet().setId, ciphertext: 'AAAA', mac: 'AAAA' }),
    profileId: 'sandbox',
  }),
  ENVELOPE_SET_UNKNOWN: async () => ({
    input: JSON.stringify({
      set_id: 'ks_not_a_set_we_know',
      ciphertext: randomBytes(32).toString('base64'),
      mac: randomBytes(32).toString('base64'),
    }),
    profileId: 'sandbox',
  }),
  ENVELOPE_SET_USED: async () => {
    throw new Error('produced in the key set test');
  },
  ENVELOPE_SET_EXPIRED: async () => {
    throw new Error('produced in the key set test');
  },
  ENVELOPE_MAC_INVALID: async () => ({ input: await sealed({ corruptMac: true }), profileId: 'sandbox' }),
  // Block-aligned and without PKCS#7: the last byte (0x00) is no valid padding.
  ENVELOPE_PADDING: async () => ({
    input: await sealed({ raw: Buffer.alloc(32, 0x41).fill(0, 31) }),
    profileId: 'sandbox',
  }),
  ENVELOPE_WRONG_IV: async () => ({ input: await sealed({ iv: randomBytes(16) }), profileId: 'sandbox' }),
  UNRECOGNISED: async () => ({ input: '{"hello": "world"}', profileId: 'sandbox' }),
};

const LATER = new Set<FailureCode>([
  'CSE_PREVIOUS_KEY',
  'PEM_PREVIOUS_KEY',
  'ENVELOPE_SET_USED',
  'ENVELOPE_SET_EXPIRED',
]);

function expectFirst(d: Diagnosis, code: FailureCode) {
  expect(d.findings[0]?.code, JSON.stringify(d.findings.map((f) => f.code))).toBe(code);
  const f = d.findings[0]!;
  // The table's words, not ad-hoc ones, and some evidence.
  expect(f.title).toBe(FAILURE_MODES[code].title);
  expect(f.fix).toBe(FAILURE_MODES[code].fix);
}

/** No decrypted value in what comes back: the PAN shows as its last four only. */
function expectNoSecret(d: Diagnosis) {
  const text = JSON.stringify(d);
  expect(text).not.toContain(PAN);
  expect(text).not.toContain(PAN.slice(0, 12));
}

beforeAll(async () => {
  h = await createDiagnoseHarness();
}, 120_000);
afterAll(async () => {
  await h?.close();
});

describe('the failure-mode table, each row produced for real', () => {
  it('has a producer for every row', () => {
    expect(Object.keys(PRODUCERS).sort()).toEqual([...FAILURE_CODES].sort());
  });

  for (const code of FAILURE_CODES.filter((c) => !LATER.has(c))) {
    it(`names ${code} first`, async () => {
      const { input, profileId } = await PRODUCERS[code]();
      const d = await h.diagnose(input, profileId);
      expectFirst(d, code);
      expectNoSecret(d);
    }, 60_000);
  }

  it('says a good CSE field decrypts at the sandbox, with last 4 and Luhn only', async () => {
    const d = await h.diagnose(gatewayField(), 'sandbox');
    expect(d.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const ok = d.findings.find((f) => f.code === 'GATEWAY_DECRYPTS')!;
    expect(ok.evidence).toMatchObject({ last4: '1111', luhnOk: true, length: 16 });
    expectNoSecret(d);
  });

  it('decrypts with the token key and describes the value by its shape', async () => {
    const d = await h.diagnose(rsaEncrypt(h.encryptionKey.pem, PAN).toString('base64'));
    const ok = d.findings.find((f) => f.code === 'DECRYPTED')!;
    expect(ok.evidence).toMatchObject({
      keyId: h.encryptionKey.id,
      padding: 'RSAES-PKCS1-V1_5',
      last4: '1111',
      luhnOk: true,
    });
    expectNoSecret(d);
  });

  it('names the managed version of a token key that could have made it', async () => {
    await h.ok('lifecycle.create', { name: 'diag managed', purpose: 'signing' });
    const d = await h.diagnose(rsaEncrypt(otherRsaKey().publicKey, PAN).toString('base64'));
    const match = d.findings.find((f) => f.code === 'KEY_MATCH')!;
    expect(match.evidence.candidates).toMatch(/v1 of "diag managed" \(active\)/);
    expect(match.evidence.candidates).toMatch(/gateway key of "Sandbox" \(pinned, key_id \S+/);
  });

  it('refuses an input over 256 KiB before anything runs', async () => {
    const envelope = await h.call('troubleshoot.diagnose', { input: 'A'.repeat(256 * 1024 + 1) });
    expect(envelope.ok ? 'ok' : envelope.error.code).toBe('VALIDATION');
  });

  it('opens a good envelope under the live key set in the token', async () => {
    const d = await h.diagnose(await sealed(), 'sandbox');
    expect(d.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(d.findings.map((f) => f.code)).toContain('ENVELOPE_OK');
  });

  it('names ENVELOPE_SET_USED and ENVELOPE_SET_EXPIRED for sets that were sent and that ran out', async () => {
    const filler = {
      ciphertext: randomBytes(32).toString('base64'),
      mac: randomBytes(32).toString('base64'),
    };
    // The sandbox's clock runs 15 min minus 12 s behind: the set the ping hands over expires in
    // 12 s (the client refuses a set with less than 10 s left, so it cannot be shorter).
    h.skew.ms = -(15 * 60_000 - 12_000);
    const ping = await h.ok<{ setId: string }>('gateway.ping', { profileId: 'sandbox' });
    h.skew.ms = 0;
    expectFirst(
      await h.diagnose(JSON.stringify({ set_id: ping.setId, ...filler }), 'sandbox'),
      'ENVELOPE_SET_USED',
    );
    const next = keySet().setId;
    // Still live at the start of its last 12 s; the app's clock then moves past its end.
    const live = await h.diagnose(JSON.stringify({ set_id: next, ...filler }), 'sandbox');
    expect(live.findings.map((f) => f.code)).not.toContain('ENVELOPE_SET_EXPIRED');
    h.appSkew.ms = 13_000;
    try {
      expectFirst(
        await h.diagnose(JSON.stringify({ set_id: next, ...filler }), 'sandbox'),
        'ENVELOPE_SET_EXPIRED',
      );
    } finally {
      h.appSkew.ms = 0;
    }
  }, 60_000);

  it("names CSE_PREVIOUS_KEY and PEM_PREVIOUS_KEY after the gateway's key rotation", async () => {
    const oldPem = h.pinnedPem('sandbox');
    const field = gatewayField();
    await h.rotateSandboxKey();
    const pending = await h.ok<{ pending: { spkiSha256: string } }>('gateway.fetchKey', {
      profileId: 'sandbox',
    });
    await h.ok('gateway.confirmKeyRotation', {
      profileId: 'sandbox',
      fingerprint: pending.pending.spkiSha256,
    });
    const cse = await h.diagnose(field, 'sandbox');
    expectFirst(cse, 'CSE_PREVIOUS_KEY');
    expectNoSecret(cse);
    expectFirst(await h.diagnose(oldPem, 'sandbox'), 'PEM_PREVIOUS_KEY');
  }, 60_000);

  it('never uses a real gateway as a decryption oracle', async () => {
    await h.ok('gateway.addProfile', {
      id: 'remote',
      name: 'Remote',
      baseUrl: 'https://payments.example.invalid',
      username: 'merchant',
      cse: 'RSAES-PKCS1-V1_5',
    });
    const d = await h.diagnose(gatewayField(), 'remote');
    expect(d.skipped.join(' ')).toMatch(/decryption oracle; it is used only against a sandbox/);
    expect(d.findings.map((f) => f.code)).not.toContain('GATEWAY_DECRYPTS');
    expect(d.findings.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('keeps the last diagnoses as metadata only', async () => {
    const recent = await h.ok<{ codes: string[]; input: { chars: number } }[]>('troubleshoot.recent');
    expect(recent.length).toBeGreaterThan(5);
    expect(JSON.stringify(recent)).not.toMatch(/last4|1111/);
  });
});
