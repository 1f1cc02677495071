import forge from 'node-forge';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macInput } from '../../../electron/crypto/envelope.nodejs';
import type { ComposeReport } from '../../../shared/console/compose.std';
import type {
  ConsoleCiphertextInfo,
  ConsoleDecryptResult,
  ConsoleEncryptResult,
  ConsoleHistoryEntry,
  ConsoleMessageResult,
  ConsoleVerifyResult,
} from '../../../shared/contract/console.std';
import { findSecrets } from '../../helpers/scan';
import { softHsmAvailable } from '../../helpers/softhsm';
import { createConsoleRig, openssl, type ConsoleRig } from './setup';

/**
 * The console's channels through the app's registry against the real sandbox and SoftHSM2.
 * Every ciphertext is checked by an independent implementation given the sandbox's clear test
 * keys: the openssl CLI (RSA with both paddings, AES-256-CBC, HMAC-SHA256) and node-forge
 * (what PayTrace's JavaScript library uses).
 */
const PAN = '4111111111111111';
const AMEX = '378282246310005';
const CVV = '123';
const ACCOUNT = '000123456789';
const ROUTING = '011000015';

let rig: ConsoleRig;
let tmp: string;

beforeAll(async () => {
  rig = await createConsoleRig({ label: 'console-ch' });
  tmp = mkdtempSync(join(tmpdir(), 'mkm-console-ch-'));
}, 120_000);
afterAll(async () => {
  await rig?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** openssl pkeyutl -decrypt of one base64 field with the sandbox's gateway private key. */
function opensslDecrypt(field: string, padding: 'pkcs1' | 'oaep'): string {
  const file = join(tmp, `ct-${Math.random().toString(36).slice(2)}.bin`);
  writeFileSync(file, Buffer.from(field, 'base64'));
  const args = [
    'pkeyutl',
    '-decrypt',
    '-inkey',
    rig.gatewayPrivateKey().path,
    '-in',
    file,
    '-pkeyopt',
    `rsa_padding_mode:${padding}`,
  ];
  if (padding === 'oaep') args.push('-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256');
  return openssl(args).toString('utf8');
}

describe.runIf(softHsmAvailable())('console channels', () => {
  it('compose finds a mistyped card number, a short Amex CVV and a bad routing number, field by field', async () => {
    const r = await rig.ok<ComposeReport>('console.compose', {
      fields: { number: '4111111111111112', expiration: '12/30', csc: '12', routingNumber: '011000016' },
    });
    expect(r.ok).toBe(false);
    const codes = r.findings.map((f) => `${f.field}:${f.level}:${f.code}`);
    expect(codes).toContain('number:error:luhn');
    expect(codes).toContain('routingNumber:error:aba_checksum');
    expect(codes).toContain('csc:error:length');
    expect(JSON.stringify(r)).not.toContain('4111111111111112');

    const amex = await rig.ok<ComposeReport>('console.compose', { fields: { number: AMEX, csc: '123' } });
    expect(amex.network).toBe('amex');
    expect(amex.findings.find((f) => f.field === 'csc')).toMatchObject({ level: 'error', code: 'length' });
    expect(amex.masked.number).toBe('378282•••••0005');
  });

  it('a scheme the gateway cannot decrypt is refused (SCHEME_MISMATCH) unless overridden, and the override is audited', async () => {
    const request = {
      profileId: rig.profileId,
      scheme: 'paytrace',
      fields: { number: PAN, expiration: '12/30', csc: CVV },
    };
    expect(await rig.code('console.encrypt', request)).toBe('SCHEME_MISMATCH');
    const r = await rig.ok<ConsoleEncryptResult>('console.encrypt', { ...request, overrideScheme: true });
    expect(r.padding).toBe('RSAES-PKCS1-V1_5');
    const { entries } = await rig.ok<{
      entries: { action: string; result: string; details: Record<string, unknown> }[];
    }>('audit.query', {});
    const encrypts = entries.filter((e) => e.action === 'console.encrypt' && e.details.scheme === 'paytrace');
    expect(encrypts.map((e) => [e.result, e.details.overrideScheme])).toEqual(
      expect.arrayContaining([
        ['SCHEME_MISMATCH', false],
        ['ok', true],
      ]),
    );
  });

  it("the round trip verifies the scheme composed, not the profile's: refused without the override, PKCS#1 v1.5 with it", async () => {
    const refused = await rig.ok<ConsoleVerifyResult>('console.verify', {
      profileId: rig.profileId,
      fields: { number: PAN },
      legs: ['cse'],
      scheme: 'paytrace',
    });
    expect(refused.cse!.error?.code).toBe('SCHEME_MISMATCH');
    const r = await rig.ok<ConsoleVerifyResult>('console.verify', {
      profileId: rig.profileId,
      fields: { number: PAN },
      legs: ['cse'],
      scheme: 'paytrace',
      overrideScheme: true,
    });
    expect(r.cse!.padding).toBe('RSAES-PKCS1-V1_5');
    expect(r.cse!.rows[0]).toMatchObject({ received: true, last4: '1111', ok: true });
    const profiles = await rig.ok<ConsoleVerifyResult>('console.verify', {
      profileId: rig.profileId,
      fields: { number: PAN },
      legs: ['cse'],
    });
    expect(profiles.cse!.padding).toBe('RSAES-OAEP-SHA256');
  });

  it('PayTrace scheme: the body decrypts with openssl (PKCS#1 v1.5) and node-forge, full modulus length, standard base64', async () => {
    const r = await rig.ok<ConsoleEncryptResult>('console.encrypt', {
      profileId: rig.profileId,
      scheme: 'paytrace',
      overrideScheme: true,
      fields: { number: '4111 1111 1111 1111', expiration: '12/30', csc: CVV },
      amount: '10.50',
    });
    expect(r.padding).toBe('RSAES-PKCS1-V1_5');
    const body = r.body as { amount: string; credit_card: Record<string, string>; encrypted_csc: string };
    expect(body.amount).toBe('10.50');
    expect(body.credit_card).toMatchObject({ expiration_month: '12', expiration_year: '2030' });
    for (const field of [body.credit_card.encrypted_number!, body.encrypted_csc]) {
      expect(field).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
      expect(Buffer.from(field, 'base64').length).toBe(256);
    }
    expect(r.fields.map((f) => [f.path, f.bytes])).toEqual([
      ['credit_card.encrypted_number', 256],
      ['encrypted_csc', 256],
    ]);
    expect(opensslDecrypt(body.credit_card.encrypted_number!, 'pkcs1')).toBe(PAN);
    expect(opensslDecrypt(body.encrypted_csc, 'pkcs1')).toBe(CVV);

    const forgeKey = forge.pki.privateKeyFromPem(rig.gatewayPrivateKey().pem);
    expect(
      forgeKey.decrypt(forge.util.decode64(body.credit_card.encrypted_number!), 'RSAES-PKCS1-V1_5'),
    ).toBe(PAN);
    expect(forgeKey.decrypt(forge.util.decode64(body.encrypted_csc), 'RSAES-PKCS1-V1_5')).toBe(CVV);

    // The curl line carries ciphertexts and a placeholder, never a clear value or a real token.
    expect(r.curl).toContain(`${rig.sandbox.url}/v1/transactions/sale/keyed`);
    expect(r.curl).toContain('Authorization: Bearer <ACCESS_TOKEN>');
    expect(JSON.parse(r.curl.slice(r.curl.indexOf("--data-raw '") + 12, -1))).toEqual(r.body);
    const everything = JSON.stringify(r);
    expect(everything).not.toContain(PAN);
    expect(everything).not.toContain('4111 1111');
    // The profile advertises OAEP; a PayTrace body made anyway says it will not decrypt there.
    expect(r.notes.join(' ')).toMatch(/advertises RSAES-OAEP-SHA256/);
  });

  it("OAEP scheme (the profile's): every field decrypts with openssl OAEP-SHA256, bank fields under check", async () => {
    const card = await rig.ok<ConsoleEncryptResult>('console.encrypt', {
      profileId: rig.profileId,
      fields: { swipe: `%B${PAN}^TEST/CARD^30121010000000000000?`, csc: CVV },
    });
    expect(card.scheme).toBe('oaep');
    const cardBody = card.body as { credit_card: Record<string, string>; encrypted_csc: string };
    expect(card.endpoint).toMatch(/\/v1\/transactions\/sale\/swiped$/);
    expect(opensslDecrypt(cardBody.credit_card.encrypted_swipe!, 'oaep')).toBe(
      `%B${PAN}^TEST/CARD^30121010000000000000?`,
    );
    expect(opensslDecrypt(cardBody.encrypted_csc, 'oaep')).toBe(CVV);

    const bank = await rig.ok<ConsoleEncryptResult>('console.encrypt', {
      profileId: rig.profileId,
      fields: { accountNumber: ACCOUNT, routingNumber: ROUTING },
    });
    const check = (bank.body as { check: Record<string, string> }).check;
    expect(opensslDecrypt(check.encrypted_account_number!, 'oaep')).toBe(ACCOUNT);
    expect(opensslDecrypt(check.encrypted_routing_number!, 'oaep')).toBe(ROUTING);
    expect(JSON.stringify(bank)).not.toContain(ACCOUNT);
  });

  it('refuses card and bank together, and a card number without its expiration', async () => {
    expect(
      await rig.code('console.encrypt', {
        profileId: rig.profileId,
        fields: { number: PAN, expiration: '12/30', accountNumber: ACCOUNT },
      }),
    ).toBe('VALIDATION');
    expect(await rig.code('console.encrypt', { profileId: rig.profileId, fields: { number: PAN } })).toBe(
      'VALIDATION',
    );
    expect(await rig.code('console.encrypt', { profileId: 'nope', fields: { number: PAN } })).toBe(
      'NOT_FOUND',
    );
    expect(
      await rig.code('console.encrypt', { profileId: rig.profileId, fields: { number: PAN, extra: 1 } }),
    ).toBe('VALIDATION');
  });

  it("a key-rolling message sealed in the token: openssl decrypts it with the set's clear key and recomputes the MAC; the console opens it; a flipped bit is MAC_INVALID", async () => {
    const text = '{"hello":"gateway","n":42}';
    for (const ivSource of ['token', 'set'] as const) {
      const m = await rig.ok<ConsoleMessageResult>('console.encryptMessage', {
        profileId: rig.profileId,
        text,
        ivSource,
      });
      expect(m.parts.map((p) => [p.name, p.bytes])).toEqual([
        ['set_id', Buffer.byteLength(m.setId)],
        ['iv', 16],
        ['ciphertext', 32],
        ['mac', 32],
      ]);
      const keys = rig.setKeys(m.setId);
      const iv = Buffer.from(m.envelope.iv, 'base64');
      if (ivSource === 'set') expect(iv.toString('hex')).toBe(keys.ivHex);
      else expect(iv.toString('hex')).not.toBe(keys.ivHex);
      const ciphertext = Buffer.from(m.envelope.ciphertext, 'base64');
      const clear = openssl(
        ['enc', '-d', '-aes-256-cbc', '-K', keys.encHex, '-iv', iv.toString('hex')],
        ciphertext,
      );
      expect(clear.toString('utf8')).toBe(text);
      const mac = openssl(
        ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${keys.macHex}`, '-binary'],
        macInput('req', m.setId, iv, ciphertext),
      );
      expect(mac.toString('base64')).toBe(m.envelope.mac);

      const opened = await rig.ok<ConsoleDecryptResult>('console.decryptMessage', {
        profileId: rig.profileId,
        envelope: m.envelope,
      });
      expect(opened).toMatchObject({ text, json: true, macOk: true, setId: m.setId });

      const flipped = Buffer.from(m.envelope.ciphertext, 'base64');
      flipped[3]! ^= 0x01;
      expect(
        await rig.code('console.decryptMessage', {
          profileId: rig.profileId,
          envelope: { ...m.envelope, ciphertext: flipped.toString('base64') },
        }),
      ).toBe('MAC_INVALID');
      expect(
        await rig.code('console.decryptMessage', {
          profileId: rig.profileId,
          envelope: { ...m.envelope, set_id: 'ks_other' },
        }),
      ).toBe('KEY_SET_UNKNOWN');
    }
  });

  it('round trip: both endpoints received every field, lengths, last4 and the salted hash match', async () => {
    const r = await rig.ok<ConsoleVerifyResult>('console.verify', {
      profileId: rig.profileId,
      fields: { number: PAN, expiration: '12/30', csc: CVV, accountNumber: ACCOUNT, routingNumber: ROUTING },
    });
    expect(r.cse?.error).toBeNull();
    expect(r.secure?.error).toBeNull();
    expect(r.cse?.ok).toBe(true);
    expect(r.secure?.ok).toBe(true);
    const card = r.secure!.rows.find((row) => row.field === 'number')!;
    expect(card).toMatchObject({
      gatewayName: 'card_number',
      received: true,
      length: 16,
      last4: '1111',
      luhnOk: true,
      tagMatch: true,
    });
    const routing = r.cse!.rows.find((row) => row.field === 'routingNumber')!;
    expect(routing).toMatchObject({
      gatewayName: 'encrypted_routing_number',
      abaOk: true,
      tagMatch: true,
      length: 9,
    });
    expect(r.secure!.rows.find((row) => row.field === 'csc')).toMatchObject({
      tagMatch: null,
      last4: null,
      length: 3,
    });
    expect(JSON.stringify(r)).not.toContain(PAN);
    expect(JSON.stringify(r)).not.toContain(ACCOUNT);
  });

  it("round trip of a mistyped number: the gateway's Luhn verdict is shown, and agrees with the console", async () => {
    const r = await rig.ok<ConsoleVerifyResult>('console.verify', {
      profileId: rig.profileId,
      fields: { number: '4111111111111112' },
      legs: ['cse'],
    });
    expect(r.secure).toBeNull();
    expect(r.cse!.rows[0]).toMatchObject({ luhnOk: false, tagMatch: true, ok: true });
  });

  it('history and lastCiphertexts hold masks and lengths, never a clear value nor a hash of one; on disk only when asked', async () => {
    const history = await rig.ok<ConsoleHistoryEntry[]>('console.history', {});
    expect(history.length).toBeGreaterThan(3);
    const verify = history.find((h) => h.kind === 'verify' && h.fields.accountNumber)!;
    expect(verify.fields.number).toEqual({ masked: '411111••••••1111' });
    expect(verify.fields.csc).toEqual({ masked: '•••' });
    const text = JSON.stringify(history);
    for (const secret of [PAN, ACCOUNT, CVV === '123' ? '"123"' : CVV]) expect(text).not.toContain(secret);

    const last = await rig.ok<ConsoleCiphertextInfo[]>('console.lastCiphertexts', {});
    expect(last[0]).toMatchObject({ kind: 'cse', scheme: 'oaep' });
    expect(Object.values(last[0]!.lengths).every((n) => n === 256)).toBe(true);
    expect(last.some((l) => l.kind === 'message' && l.setId)).toBe(true);

    const persisted = await rig.ok<{ file: string }>('console.historyPersistence', { persist: true });
    expect(readdirSync(join(rig.dataDir, 'console'))).toContain('history.json');
    expect(findSecrets([join(rig.dataDir, 'console')], [PAN, ACCOUNT, '4111 1111 1111 1111'])).toEqual([]);
    expect(persisted.file).toBe(join(rig.dataDir, 'console', 'history.json'));
    await rig.ok('console.historyPersistence', { persist: false });
    expect(readdirSync(join(rig.dataDir, 'console'))).not.toContain('history.json');
  });

  it('audits encrypt and verify with metadata only, and nothing clear reaches the app data folder', async () => {
    const entries = await rig.ok<{
      entries: { action: string; result: string; details: Record<string, unknown> }[];
    }>('audit.query', {});
    const actions = entries.entries.map((e) => e.action);
    expect(actions).toContain('console.encrypt');
    expect(actions).toContain('console.verify');
    expect(actions).toContain('console.message.encrypt');
    const enc = entries.entries.find(
      (e) => e.action === 'console.encrypt' && e.result === 'ok' && e.details.profileId === rig.profileId,
    )!;
    expect(enc.details.scheme).toBe('oaep');
    expect(enc.details.fields).toEqual(expect.arrayContaining(['accountNumber', 'routingNumber']));
    expect(findSecrets([rig.dataDir], [PAN, ACCOUNT, '4111 1111 1111 1111', AMEX])).toEqual([]);
  });
});
