import { generateKeyPairSync, createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeExport } from '../../../shared/contract/exchange.std';
import { softHsmAvailable } from '../../helpers/softhsm';
import { createConsoleRig, type ConsoleRig } from '../console/setup';

/**
 * The files that decide whom mkm trusts are sealed with the token's audit key, like the audit
 * log: a file writer who swaps the pinned gateway key (the key the console encrypts card data
 * to) or adds a trusted signer is refused at the point of use (STATE_TAMPERED), and with no token
 * logged in those uses are refused until one is (STATE_UNCHECKED). Real SoftHSM2, real sandbox.
 */
let rig: ConsoleRig;

beforeAll(async () => {
  rig = await createConsoleRig({ label: 'state-seal' });
  // The login attaches the audit key in the background: wait until it has.
  await rig.app.audit.verify();
}, 120_000);
afterAll(async () => {
  await rig?.close();
});

const CARD = { number: '4111111111111111', expiration: '12/30', csc: '123' };

describe.runIf(softHsmAvailable())('sealed state files', () => {
  it('a swapped pinned gateway key is refused before any card data is encrypted to it', async () => {
    const encrypt = () => rig.code('console.encrypt', { profileId: rig.profileId, fields: CARD });
    expect(await encrypt()).toBe('ok');

    const file = join(rig.dataDir, 'gateway', `gateway-${rig.profileId}.json`);
    const original = readFileSync(file, 'utf8');
    const state = JSON.parse(original) as { gatewayKey: { pinned: { pem: string; spkiSha256: string } } };
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    state.gatewayKey.pinned.pem = attacker.export({ type: 'spki', format: 'pem' }).toString();
    state.gatewayKey.pinned.spkiSha256 = createHash('sha256')
      .update(attacker.export({ type: 'spki', format: 'der' }))
      .digest('hex');
    writeFileSync(file, JSON.stringify(state, null, 2) + '\n');

    const refused = await rig.call('console.encrypt', { profileId: rig.profileId, fields: CARD });
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.error).toMatchObject({
      code: 'STATE_TAMPERED',
      details: { file: `gateway-${rig.profileId}.json` },
    });
    // Put back as mkm sealed it, it is used again.
    writeFileSync(file, original);
    expect(await encrypt()).toBe('ok');
  });

  it('a swapped pinned gateway key cannot be confirmed as a first pin: its seal is checked first', async () => {
    const file = join(rig.dataDir, 'gateway', `gateway-${rig.profileId}.json`);
    const original = readFileSync(file, 'utf8');
    const state = JSON.parse(original) as { gatewayKey: { pinned: { pem: string; spkiSha256: string } } };
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const fingerprint = createHash('sha256')
      .update(attacker.export({ type: 'spki', format: 'der' }))
      .digest('hex');
    state.gatewayKey.pinned.pem = attacker.export({ type: 'spki', format: 'pem' }).toString();
    state.gatewayKey.pinned.spkiSha256 = fingerprint;
    writeFileSync(file, JSON.stringify(state, null, 2) + '\n');
    const confirm = (fp: string) =>
      rig.call('gateway.confirmPin', {
        profileId: rig.profileId,
        key: 'encryption',
        fingerprint: fp,
        by: 'A. Admin',
      });
    const refused = await confirm(fingerprint);
    expect(!refused.ok && refused.error.code).toBe('STATE_TAMPERED');
    writeFileSync(file, original);
    const genuine = (JSON.parse(original) as { gatewayKey: { pinned: { spkiSha256: string } } }).gatewayKey
      .pinned.spkiSha256;
    const ok = await confirm(genuine);
    expect(ok.ok, JSON.stringify(ok)).toBe(true);
    // The confirmation is written into the sealed file and sealed with it: still used.
    expect(await rig.code('console.encrypt', { profileId: rig.profileId, fields: CARD })).toBe('ok');
  });

  it('with no token logged in the pinned key is not vouched for: log in to check it', async () => {
    await rig.ok('tokens.logout', { slotId: rig.token.slotId });
    const refused = await rig.call('console.encrypt', { profileId: rig.profileId, fields: CARD });
    expect(!refused.ok && refused.error.code).toBe('STATE_UNCHECKED');
    expect(!refused.ok && refused.error.message).toContain('Log in');
    await rig.ok('tokens.login', { slotId: rig.token.slotId, pin: rig.token.userPin });
    await rig.app.audit.verify();
    const again = await rig.call('console.encrypt', { profileId: rig.profileId, fields: CARD });
    expect(again.ok, JSON.stringify(again)).toBe(true);
  });

  it('a signer added to the trusted list by hand is refused when the list is used', async () => {
    const gen = (label: string) =>
      rig.ok<{ id: string; spkiSha256: string }>('keys.generate', {
        slotId: rig.token.slotId,
        type: 'rsa-2048',
        label,
        purpose: 'signing',
      });
    const trusted = await gen('trusted-signer');
    const intruder = await gen('intruder-signer');
    await rig.ok('exchange.trustSigner', { spkiSha256: trusted.spkiSha256, name: 'Desk', confirm: true });
    const pkg = (signingKeyId: string) =>
      rig.ok<ExchangeExport>('exchange.export', {
        kind: 'announcement',
        signingKeyId,
        keyIds: [signingKeyId],
      });
    const good = await pkg(trusted.id);
    expect(await rig.code('exchange.verify', { package: good.text })).toBe('ok');

    const file = join(rig.dataDir, 'exchange', 'trusted-signers.json');
    const list = JSON.parse(readFileSync(file, 'utf8')) as { signers: unknown[] };
    list.signers.push({
      spkiSha256: intruder.spkiSha256,
      name: 'Desk 2',
      addedAt: new Date().toISOString(),
      addedBy: 'admin',
    });
    writeFileSync(file, JSON.stringify(list, null, 2) + '\n');
    const forged = await pkg(intruder.id);
    expect(await rig.code('exchange.verify', { package: forged.text })).toBe('STATE_TAMPERED');
    // The list vouches for no one any more, the honest signer included, until it is fixed.
    expect(await rig.code('exchange.verify', { package: good.text })).toBe('STATE_TAMPERED');
    // Trusting again with the token logged in seals the list anew (the hand-added signer stays
    // out of it only if the admin removes it: the list is what it now says, sealed by the admin).
    await rig.ok('exchange.untrustSigner', { spkiSha256: intruder.spkiSha256, confirm: true });
    expect(await rig.code('exchange.verify', { package: good.text })).toBe('ok');
    expect(await rig.code('exchange.verify', { package: forged.text })).toBe('EXCHANGE_SIGNER_UNTRUSTED');
  });
});
