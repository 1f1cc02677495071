import { missingCapability, type GatedFeature } from '../../shared/capability-gate.std';
import { MkmError } from '../../shared/errors.std';
import type { CapabilitiesResult } from '../../shared/tokens.std';

/**
 * The one check every capability-gated entry point makes first, main side, so the desktop app,
 * browser mode and the CLI all meet the same refusal: CAPABILITY_MISSING naming the capability
 * and saying why, in the probe's own words, before anything is done on the token.
 */
export async function requireCapability<C extends Pick<CapabilitiesResult, 'capabilities'>>(
  tokens: { capabilities(slotId: number): Promise<C> },
  slotId: number,
  feature: GatedFeature,
): Promise<C> {
  const caps = await tokens.capabilities(slotId);
  checkCapabilities(caps, feature);
  return caps;
}

/** The same check on a probe result already at hand. */
export function checkCapabilities(
  caps: Pick<CapabilitiesResult, 'capabilities'>,
  feature: GatedFeature,
): void {
  const missing = missingCapability(caps, feature);
  if (!missing) return;
  throw new MkmError('CAPABILITY_MISSING', missing.message, {
    capability: missing.capability,
    feature,
    reason: missing.reason,
  });
}
