import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../electron/core/app.main';
import { CAPABILITY_NAMES } from '../../../electron/hsm/pkcs11/types.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * The capability cache (capabilities.json, per manufacturer|model|firmware) must not keep
 * answering with what an earlier probe said: that probe tried session objects only (so it told
 * tpm2-pkcs11 "no" to nearly everything) and gave raw CKR names as reasons.
 */
describe('the capability cache', () => {
  let hsm: SoftHsmToken;
  let dataDir: string;
  let app: App;

  beforeAll(() => {
    hsm = createSoftHsmToken({ label: 'mkm-cache' });
    dataDir = mkdtempSync(join(tmpdir(), 'mkm-capcache-'));
    const stale = {
      cacheKey: 'SoftHSM project|SoftHSM v2|2.6',
      token: { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', firmware: '2.6' },
      capabilities: {
        rsaOaepSha256Unwrap: { supported: true },
        aesCmac: { supported: false, reason: 'CKR_ARGUMENTS_BAD: the token refuses the parameters' },
      },
      bestOaepUnwrap: 'RSA_OAEP_SHA256',
      probedAt: '2026-01-01T00:00:00.000Z',
    };
    writeFileSync(join(dataDir, 'capabilities.json'), JSON.stringify({ [stale.cacheKey]: stale }));
    app = createApp({ mode: 'cli', dataDir, moduleOverride: hsm.modulePath, isTrustedSender: () => true });
  });

  afterAll(async () => {
    await app?.close();
    hsm?.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("probes again instead of repeating the earlier probe's answers, then caches the new ones", async () => {
    const call = async (refresh: boolean) => {
      const reply = await app.registry.dispatch(
        'tokens.capabilities',
        { slotId: hsm.slotId, refresh },
        { transport: 'cli' },
      );
      if (!reply.ok) throw new Error(reply.error.message);
      return reply.result as {
        cached: boolean;
        bestOaepUnwrap: string | null;
        capabilities: Record<string, { supported: boolean }>;
      };
    };
    const fresh = await call(false);
    expect(fresh.cached).toBe(false);
    expect(fresh.bestOaepUnwrap).toBe('RSA_OAEP_SHA1');
    expect(fresh.capabilities.aesCmac!.supported).toBe(true);
    const again = await call(false);
    expect(again.cached).toBe(true);
    expect(again.bestOaepUnwrap).toBe('RSA_OAEP_SHA1');
  });
});

describe('a cached answer from before a capability was probed', () => {
  let hsm: SoftHsmToken;
  let dataDir: string;
  let app: App;

  beforeAll(() => {
    hsm = createSoftHsmToken({ label: 'mkm-cache-2' });
    dataDir = mkdtempSync(join(tmpdir(), 'mkm-capcache-'));
    const stale = {
      cacheKey: 'SoftHSM project|SoftHSM v2|2.6',
      token: { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', firmware: '2.6' },
      // Every capability but `wrapWithTrusted` (export restricted to trusted KEKs).
      capabilities: Object.fromEntries(
        CAPABILITY_NAMES.filter((n) => n !== 'wrapWithTrusted').map((n) => [n, { supported: true }]),
      ),
      bestOaepUnwrap: 'RSA_OAEP_SHA1',
      objects: 'session',
      probedAt: '2026-01-01T00:00:00.000Z',
    };
    writeFileSync(join(dataDir, 'capabilities.json'), JSON.stringify({ [stale.cacheKey]: stale }));
    app = createApp({ mode: 'cli', dataDir, moduleOverride: hsm.modulePath, isTrustedSender: () => true });
  });

  afterAll(async () => {
    await app?.close();
    hsm?.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('is probed again, so no capability is missing from what the UI and CLI show', async () => {
    const reply = await app.registry.dispatch(
      'tokens.capabilities',
      { slotId: hsm.slotId, refresh: false },
      { transport: 'cli' },
    );
    if (!reply.ok) throw new Error(reply.error.message);
    const result = reply.result as { cached: boolean; capabilities: Record<string, { supported: boolean }> };
    expect(result.cached).toBe(false);
    expect(result.capabilities.wrapWithTrusted).toEqual({ supported: true });
  });
});
