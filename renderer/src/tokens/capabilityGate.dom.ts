import { useQuery } from '@tanstack/react-query';
import {
  missingCapability,
  type GatedFeature,
  type MissingCapability,
} from '../../../shared/capability-gate.std';
import { mkm } from '../api.dom';

/**
 * Why `feature` cannot run on the token in slot `slotId`, from what the capability probe found
 * (the same rule main enforces, shared/capability-gate.std.ts), or null. Only an earlier probe's
 * answer is used: this never starts a probe, and a token never probed is not held back here
 * (main still refuses with CAPABILITY_MISSING when the feature runs).
 */
export function useCapabilityBlock(slotId: number | null, feature: GatedFeature): MissingCapability | null {
  const known = useQuery({
    queryKey: ['tokens', 'known-capabilities', slotId],
    queryFn: () => mkm().tokens.knownCapabilities({ slotId: slotId! }),
    enabled: slotId !== null,
  });
  return known.data ? missingCapability(known.data, feature) : null;
}
