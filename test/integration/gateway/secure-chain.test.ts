import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayClient } from '../../../electron/gateway/client/gateway-client.nodejs';
import { dirname } from 'node:path';
import { findSecrets } from '../../helpers/scan';
import { softHsmAvailable } from '../../helpers/softhsm';
import { createHarness, PASSWORD, type Harness } from './harness';

/**
 * The gateway client against the real sandbox, with its keys in a real SoftHSM2 token behind
 * the real host process: registration with the probed wrapping, the gateway key pinned, a
 * chain of secure messages each under the set the previous answer delivered.
 */
let h: Harness;
let client: GatewayClient;
let transportId: string;

beforeAll(async () => {
  h = await createHarness();
  client = h.client();
  transportId = await h.transportKey('transport-1');
});

afterAll(async () => {
  await client?.close();
  await h?.close();
});

describe.runIf(softHsmAvailable())('gateway client: register, pin, secure chain', () => {
  it('registers the token key with the OAEP the token can unwrap and installs the first set', async () => {
    const caps = await h.host.call('probeCapabilities', { slotId: h.hsm.slotId });
    const expected = caps.bestOaepUnwrap === 'RSA_OAEP_SHA256' ? 'RSAES-OAEP-SHA256' : 'RSAES-OAEP-SHA1';
    const reg = await client.registerTransportKey({ keyId: transportId, label: 'transport-1' });
    expect(reg).toMatchObject({ keyId: transportId, wrapping: expected, status: 'active', created: true });
    expect(reg.keySet).toMatchObject({ wrappingKeyId: transportId });
    // The set's two keys are session objects in the token and nowhere else.
    expect(await h.sessionObjects()).toHaveLength(2);
    const exported = await h.host.call('exportPublicKey', {
      slotId: h.hsm.slotId,
      id: transportId,
      format: 'pem',
    });
    expect(reg.spkiSha256).toBe(exported.spkiSha256);
  });

  it('registers the same key again idempotently, with a fresh set replacing the unused one', async () => {
    const before = client.currentKeySet()!;
    const again = await client.registerTransportKey({ keyId: transportId, label: 'transport-1' });
    expect(again.created).toBe(false);
    expect((again.keySet as { setId: string }).setId).not.toBe(before.setId);
    expect(await h.sessionObjects()).toHaveLength(2);
  });

  it('fetches the gateway key and pins it on first sight', async () => {
    const status = await client.fetchGatewayKey();
    expect(status.status).toBe('pinned');
    expect(status.pinned).toMatchObject({ source: 'fetched', padding: 'RSAES-OAEP-SHA256' });
    expect(status.pinned!.spkiSha256).toMatch(/^[0-9a-f]{64}$/);
    const again = await client.fetchGatewayKey();
    expect(again).toMatchObject({ status: 'pinned', pending: null });
  });

  it('sends 20 secure pings, each under the set the previous answer delivered', async () => {
    const used = new Set<string>();
    let expected = client.currentKeySet()!.setId;
    for (let i = 0; i < 20; i++) {
      const result = await client.ping();
      expect(result.response.pong).toBe(true);
      expect(result.setId).toBe(expected);
      expect(used.has(result.setId)).toBe(false);
      used.add(result.setId);
      expect(result.nextKeySet).toHaveProperty('setId');
      expected = (result.nextKeySet as { setId: string }).setId;
    }
    expect(used.size).toBe(20);
    // Only the next set's two keys are left in the token; every used set was destroyed.
    const objects = await h.sessionObjects();
    expect(objects).toHaveLength(2);
    expect(h.audit.filter((a) => a.action === 'key-set.request')).toHaveLength(0);
  });

  it('round-trips verify_payload with a salt and checks every tag locally', async () => {
    const salt = Buffer.from('000102030405060708090a0b0c0d0e0f10', 'hex');
    const result = await client.verifyPayload(
      {
        card_number: '4111111111111111',
        expiration: '12/30',
        cvv: '123',
        account_number: '000123456789',
        routing_number: '021000021',
      },
      salt,
    );
    expect(result.fields.card_number).toMatchObject({
      received: true,
      length: 16,
      last4: '1111',
      luhn_ok: true,
    });
    expect(result.fields.card_number!.tag).toBe(
      createHmac('sha256', salt).update('4111111111111111').digest('hex'),
    );
    expect(result.fields.routing_number).toMatchObject({ aba_ok: true });
    expect(result.fields.cvv).toEqual({ received: true, length: 3 });
    expect(result.fields.expiration).not.toHaveProperty('tag');
    expect(result.tagMatches).toEqual({ card_number: true, account_number: true, routing_number: true });
    // Nothing of the card data reached the audit trail.
    expect(JSON.stringify(h.audit)).not.toContain('4111111111111111');
  });

  it('encrypts card fields under the pinned key and has the gateway verify them', async () => {
    const request = client.encryptCseFields({ encrypted_number: '4111111111111111', encrypted_csc: '999' });
    const verdict = await client.verifyCse(request);
    expect(verdict.fields.encrypted_number).toMatchObject({ decrypted: true, last4: '1111', luhn_ok: true });
    expect(verdict.fields.encrypted_csc).toMatchObject({ decrypted: true, length: 3 });
  });

  it('treats a gateway key rotation as pending until an admin confirms it, keeping the pinned key', async () => {
    const pinned = client.gatewayKeyStatus().pinned!;
    await client.sandboxRotatePublicKey();
    const status = await client.fetchGatewayKey();
    expect(status.status).toBe('rotation-pending');
    expect(status.pinned!.spkiSha256).toBe(pinned.spkiSha256);
    expect(status.pending!.spkiSha256).not.toBe(pinned.spkiSha256);
    expect(status.previous!.map((p) => p.spkiSha256)).toContain(pinned.spkiSha256);
    // Still encrypting under the pinned key, which the gateway accepts during its grace period.
    expect(client.pinnedGatewayKey()!.spkiSha256).toBe(pinned.spkiSha256);
    const verdict = await client.verifyCse(client.encryptCseFields({ encrypted_number: '4111111111111111' }));
    expect(verdict.fields.encrypted_number!.decrypted).toBe(true);
    // A wrong fingerprint does not confirm anything.
    expect(await client.confirmGatewayKeyRotation(pinned.spkiSha256).catch((e) => e.code)).toBe('CONFLICT');
    const confirmed = await client.confirmGatewayKeyRotation(status.pending!.spkiSha256);
    expect(confirmed).toMatchObject({ status: 'pinned', pending: null });
    expect(confirmed.pinned!.spkiSha256).toBe(status.pending!.spkiSha256);
    expect(h.audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['gateway-key.rotation-detected', 'gateway-key.rotation-confirmed']),
    );
  });

  it('rotates the merchant transport key with overlap and retires the first', async () => {
    const secondId = await h.transportKey('transport-2');
    const reg = await client.registerTransportKey({ keyId: secondId, label: 'transport-2' });
    expect(reg.keySet).toMatchObject({ wrappingKeyId: secondId });
    // Overlap: both active; messages flow under sets wrapped for the new key.
    const listed = await client.listMerchantKeys();
    expect(listed.filter((k) => k.status === 'active').map((k) => k.keyId)).toEqual([transportId, secondId]);
    const a = await client.ping();
    expect(a.nextKeySet).toMatchObject({ wrappingKeyId: secondId });
    const retired = await client.retireMerchantKey(transportId);
    expect(retired.status).toBe('retired');
    for (let i = 0; i < 3; i++) {
      const r = await client.ping();
      expect(r.nextKeySet).toMatchObject({ wrappingKeyId: secondId });
    }
    expect(client.merchantKeys().find((k) => k.keyId === transportId)?.status).toBe('retired');
    expect(await h.sessionObjects()).toHaveLength(2);
  });

  it('left no password, PIN or card value in its logs or state, while logging what it did', async () => {
    expect(readFileSync(h.logFile, 'utf8')).toContain('gateway audit');
    const leaks = findSecrets(
      [h.stateDir, dirname(h.logFile)],
      [PASSWORD, h.hsm.userPin, '4111111111111111', '000123456789', '021000021'],
    );
    expect(leaks).toEqual([]);
  });
});
