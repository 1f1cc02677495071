import type { UsageOperation } from './usage.std';
import { auditKeyName } from './usage.std';

/**
 * Seals made with mkm's audit key (audit log seals, sealed state files) count as uses of that
 * key in the usage service. The counter is handed to the sealers by the composition root
 * (createApp): this module imports nothing that imports the audit log, so the audit side can
 * take the type without a cycle through the usage service.
 */
export type SealCounter = (key: { id: string; kcv: string }, operation: 'audit-seal' | 'state-seal') => void;

/** The counter that records seals into a usage service, under the key's id and KCV. */
export function sealCounter(usage: {
  record(name: { auditKey: string }, operation: UsageOperation): void;
}): SealCounter {
  return (key, operation) => usage.record({ auditKey: auditKeyName(key) }, operation);
}

/**
 * One seal made by `key`. Never throws: the seal is already made and must go on being written
 * whatever happens to its count.
 */
export function countSeal(
  counter: SealCounter | undefined,
  key: { id: string; kcv: string },
  operation: 'audit-seal' | 'state-seal',
): void {
  try {
    counter?.(key, operation);
  } catch {
    // Counting is best effort here; the counts file's own failures are logged at its flush.
  }
}
