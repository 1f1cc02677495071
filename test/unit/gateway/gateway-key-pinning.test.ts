import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GatewayClient,
  type GatewayAuditEntry,
} from '../../../electron/gateway/client/gateway-client.nodejs';
import { parseGatewayProfile } from '../../../electron/gateway/client/profiles.nodejs';
import type { TokenCaller } from '../../../electron/gateway/client/token-envelope.nodejs';
import type { HsmClient } from '../../../electron/hsm/client.nodejs';
import type { TokensService } from '../../../electron/hsm/tokens.nodejs';

// Both of main's ways into the token serve as the client's TokenCaller (checked by tsc).
export type TokenCallers = [
  TokensService extends TokenCaller ? true : never,
  HsmClient extends TokenCaller ? true : never,
];
const callersFit: TokenCallers = [true, true];

/**
 * The PayTrace case (no public_key endpoint: the PEM imported by hand) and key-set refusals
 * that happen before the token is asked anything. The token is a stub that fails the test if
 * it is called; the gateway is never contacted.
 */
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const untouchedToken: TokenCaller = {
  call: async (method) => {
    throw new Error(`the token must not be asked (${method})`);
  },
};

function makeClient() {
  const stateDir = mkdtempSync(join(tmpdir(), 'mkm-gw-pin-'));
  dirs.push(stateDir);
  const audit: GatewayAuditEntry[] = [];
  const client = new GatewayClient({
    profile: parseGatewayProfile({
      id: 'paytrace',
      name: 'PayTrace',
      baseUrl: 'https://127.0.0.1:9',
      username: 'm',
      scheme: { cse: { padding: 'RSAES-PKCS1-V1_5' } },
    }),
    tokens: untouchedToken,
    slotId: 0,
    secrets: { get: async () => 'unused' },
    stateDir,
    onAudit: (e) => audit.push(e),
  });
  return { client, audit, stateDir };
}

const pem = () =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
    type: 'spki',
    format: 'pem',
  }) as string;

describe('gateway key imported by hand', () => {
  it('takes TokensService and HsmClient as its token', () => expect(callersFit).toEqual([true, true]));

  it('pins the first PEM, holds a different one as pending until confirmed, and encrypts only under the pinned key', async () => {
    const { client, audit, stateDir } = makeClient();
    const first = await client.importGatewayKeyPem(pem());
    expect(first).toMatchObject({
      status: 'pinned',
      pinned: { source: 'imported', padding: 'RSAES-PKCS1-V1_5', keyId: null },
    });
    expect(await client.importGatewayKeyPem(readPinnedPem(stateDir))).toMatchObject({ status: 'pinned' });

    const second = await client.importGatewayKeyPem(pem());
    expect(second.status).toBe('rotation-pending');
    expect(second.pinned!.spkiSha256).toBe(first.pinned!.spkiSha256);
    expect(client.pinnedGatewayKey()!.spkiSha256).toBe(first.pinned!.spkiSha256);
    const request = client.encryptCseFields({ encrypted_number: '4111111111111111' });
    expect(request.padding).toBe('RSAES-PKCS1-V1_5');
    expect(Buffer.from(request.fields.encrypted_number!, 'base64')).toHaveLength(256);
    expect(request).not.toHaveProperty('key_id');

    await client.confirmGatewayKeyRotation(second.pending!.spkiSha256);
    expect(client.gatewayKeyStatus()).toMatchObject({ status: 'pinned', pending: null });
    expect(client.pinnedGatewayKey()!.spkiSha256).toBe(second.pending!.spkiSha256);
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining([
        'gateway-key.pin',
        'gateway-key.rotation-detected',
        'gateway-key.rotation-confirmed',
      ]),
    );
  });

  it('refuses a private key PEM and a confirmation with nothing pending', async () => {
    const { client } = makeClient();
    const priv = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    await expect(client.importGatewayKeyPem(priv)).rejects.toMatchObject({ code: 'PRIVATE_KEY_REFUSED' });
    await expect(client.confirmGatewayKeyRotation('ab'.repeat(32))).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(() => client.encryptCseFields({ encrypted_csc: '123' })).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
  });
});

describe('key sets refused before the token is asked', () => {
  const set = (over: Record<string, unknown> = {}) => ({
    set_id: 'ks_unit',
    wrapping_key_id: 'aabb',
    enc_key: randomBytes(256).toString('base64'),
    mac_key: randomBytes(256).toString('base64'),
    iv: randomBytes(16).toString('base64'),
    enc_kcv: 'abcdef',
    mac_kcv: '012345',
    expires_at: new Date(Date.now() + 600_000).toISOString(),
    ...over,
  });

  it('a set with no signing key to check it against, or malformed, is refused and audited', async () => {
    const { client, audit } = makeClient();
    // Nothing pinned and the gateway unreachable: contract 1.1 leaves no way to trust the set.
    await expect(client.installKeySet(set())).rejects.toMatchObject({
      code: 'KEY_SET_SIGNATURE',
      details: { reason: 'no-signing-key' },
    });
    await expect(client.installKeySet(['nonsense'])).rejects.toMatchObject({
      code: 'GATEWAY_BAD_RESPONSE',
    });
    expect(audit.filter((a) => a.action === 'key-set.install' && a.result === 'refused')).toHaveLength(2);
    expect(client.currentKeySet()).toBeNull();
  });
});

function readPinnedPem(stateDir: string): string {
  const state = JSON.parse(readFileSync(join(stateDir, 'gateway-paytrace.json'), 'utf8')) as {
    gatewayKey: { pinned: { pem: string } };
  };
  return state.gatewayKey.pinned.pem;
}

describe('the first pin of a gateway key, confirmed by its fingerprint (issue 15 point 5)', () => {
  it('is unconfirmed until a named person gives the pinned fingerprint; a different one confirms nothing', async () => {
    const { client, audit, stateDir } = makeClient();
    const first = await client.importGatewayKeyPem(pem());
    const fp = first.pinned!.spkiSha256;
    expect(first.pinned!.confirmed).toBeNull();

    const other = `${fp.slice(0, 63)}${fp.endsWith('0') ? '1' : '0'}`;
    const refused = await client.confirmGatewayKeyPin(other, 'A. Admin', null).catch((e: unknown) => e);
    expect((refused as { code?: string }).code).toBe('PIN_FINGERPRINT_MISMATCH');
    expect(client.gatewayKeyStatus().pinned!.confirmed).toBeNull();
    expect(audit.at(-1)).toMatchObject({ action: 'gateway-key.pin-confirmed', result: 'refused' });

    // As read out: in groups, with a prefix, in capitals.
    const spoken = `SHA256:${(fp.toUpperCase().match(/.{4}/g) ?? []).join(' ')}`;
    const ok = await client.confirmGatewayKeyPin(spoken, 'A. Admin', 'key custodian');
    expect(ok.pinned!.confirmed).toMatchObject({ by: 'A. Admin', role: 'key custodian' });
    // In the (sealed) state file, so it survives a restart and a swap of it is caught.
    const state = JSON.parse(readFileSync(join(stateDir, 'gateway-paytrace.json'), 'utf8')) as {
      gatewayKey: { pinned: { confirmed: { by: string } } };
    };
    expect(state.gatewayKey.pinned.confirmed.by).toBe('A. Admin');
    expect(audit.at(-1)).toMatchObject({
      action: 'gateway-key.pin-confirmed',
      result: 'ok',
      fingerprint: fp,
      confirmedBy: 'A. Admin',
      confirmedRole: 'key custodian',
    });

    // A rotation's new key starts unconfirmed again.
    const next = await client.importGatewayKeyPem(pem());
    const rotated = await client.confirmGatewayKeyRotation(next.pending!.spkiSha256);
    expect(rotated.pinned!.confirmed).toBeNull();
  });

  it('refuses to confirm when nothing is pinned, or without a name', async () => {
    const { client } = makeClient();
    expect(
      (
        (await client.confirmGatewayKeyPin('ab'.repeat(32), 'A', null).catch((e: unknown) => e)) as {
          code: string;
        }
      ).code,
    ).toBe('NOT_FOUND');
    const first = await client.importGatewayKeyPem(pem());
    expect(
      (
        (await client
          .confirmGatewayKeyPin(first.pinned!.spkiSha256, '  ', null)
          .catch((e: unknown) => e)) as {
          code: string;
        }
      ).code,
    ).toBe('VALIDATION');
  });
});
