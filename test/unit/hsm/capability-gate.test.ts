import { describe, expect, it } from 'vitest';
import { checkCapabilities } from '../../../electron/hsm/capability-guard.nodejs';
import { missingCapability } from '../../../shared/capability-gate.std';
import { CAPABILITY_NAMES, type CapabilitiesResult, type CapabilityName } from '../../../shared/tokens.std';

/** The one rule the main-side guard and the renderer's disabled controls share. */
function caps(no: Partial<Record<CapabilityName, string>>): Pick<CapabilitiesResult, 'capabilities'> {
  const capabilities = Object.fromEntries(
    CAPABILITY_NAMES.map((n) => [n, no[n] ? { supported: false, reason: no[n] } : { supported: true }]),
  ) as CapabilitiesResult['capabilities'];
  return { capabilities };
}

describe('capability gate', () => {
  it('lets a feature through when one of its alternatives is there', () => {
    expect(missingCapability(caps({ rsaOaepSha256Unwrap: 'no' }), 'keyset-unwrap')).toBeNull();
  });

  it('names the capability and the probe’s reason when none is', () => {
    const missing = missingCapability(
      caps({ rsaOaepSha256Unwrap: 'the token does not offer this algorithm', rsaOaepSha1Unwrap: 'same' }),
      'console-message',
    );
    expect(missing).toMatchObject({ capability: 'rsaOaepUnwrap', feature: 'console-message' });
    expect(missing!.message).toBe(
      'This token cannot seal or open key-rolling messages: it lacks RSA-OAEP unwrap (the token does not offer this algorithm; same).',
    );
    expect(missingCapability(caps({ hmacSha256: 'x' }), 'console-message')?.capability).toBe('hmacSha256');
  });

  it('main refuses with CAPABILITY_MISSING carrying the capability', () => {
    expect(() => checkCapabilities(caps({ rsaSha256Sign: 'no' }), 'exchange-sign')).toThrow(
      expect.objectContaining({
        code: 'CAPABILITY_MISSING',
        details: expect.objectContaining({ capability: 'rsaSha256Sign' }),
      }),
    );
    expect(() => checkCapabilities(caps({}), 'exchange-sign')).not.toThrow();
  });
});
