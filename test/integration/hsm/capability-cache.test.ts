import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../electron/core/app.nodejs';
import { CAPABILITY_NAMES } from '../../../shared/tokens.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * The capability cache (capabilities.json, per manufacturer|model|firmware) must not keep
 * answering with what an earlier probe said: that probe tried session objects only (so it told
 * tpm2-pkcs11 "no" to nearly everything) and gave raw CKR names as reasons; and an answer from
 * before a capability was probed lacks it.
 */
const KEY = 'SoftHSM project|SoftHSM v2|2.6';
const TOKEN = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', firmware: '2.6' };

interface Answer {
  cached: boolean;
  bestOaepUnwrap: string | null;
  capabilities: Record<string, { supported: boolean }>;
}

/** An app on a fresh SoftHSM2 token whose capability cache already holds `stale` for it. */
function withCachedAnswer(label: string, stale: object): (refresh: boolean) => Promise<Answer> {
  let hsm: SoftHsmToken;
  let dataDir: string;
  let app: App;
  beforeAll(() => {
    hsm = createSoftHsmToken({ label });
    dataDir = mkdtempSync(join(tmpdir(), 'mkm-capcache-'));
    writeFileSync(join(dataDir, 'capabilities.json'), JSON.stringify({ [KEY]: stale }));
    app = createApp({ mode: 'cli', dataDir, moduleOverride: hsm.modulePath, isTrustedSender: () => true });
  });
  afterAll(async () => {
    await app?.close();
    hsm?.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  return async (refresh) => {
    const reply = await app.registry.dispatch(
      'tokens.capabilities',
      { slotId: hsm.slotId, refresh },
      { transport: 'cli' },
    );
    if (!reply.ok) throw new Error(reply.error.message);
    return reply.result as Answer;
  };
}

describe('the capability cache', () => {
  const call = withCachedAnswer('mkm-cache', {
    cacheKey: KEY,
    token: TOKEN,
    capabilities: {
      rsaOaepSha256Unwrap: { supported: true },
      aesCmac: { supported: false, reason: 'CKR_ARGUMENTS_BAD: the token refuses the parameters' },
    },
    bestOaepUnwrap: 'RSA_OAEP_SHA256',
    probedAt: '2026-01-01T00:00:00.000Z',
  });

  it("probes again instead of repeating the earlier probe's answers, then caches the new ones", async () => {
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
  const call = withCachedAnswer('mkm-cache-2', {
    cacheKey: KEY,
    token: TOKEN,
    // Every capability but `wrapWithTrusted` (export restricted to trusted KEKs).
    capabilities: Object.fromEntries(
      CAPABILITY_NAMES.filter((n) => n !== 'wrapWithTrusted').map((n) => [n, { supported: true }]),
    ),
    bestOaepUnwrap: 'RSA_OAEP_SHA1',
    objects: 'session',
    probedAt: '2026-01-01T00:00:00.000Z',
  });

  it('is probed again, so no capability is missing from what the UI and CLI show', async () => {
    const result = await call(false);
    expect(result.cached).toBe(false);
    expect(result.capabilities.wrapWithTrusted).toEqual({ supported: true });
  });
});
