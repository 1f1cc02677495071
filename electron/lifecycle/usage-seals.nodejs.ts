import type { UsageOperation } from './usage.std';

/**
 * Counts seals made with mkm's audit key (audit log seals, sealed state files) into the usage
 * service. Its own module, importing nothing that imports the audit log: the sealers call it, and
 * the usage service (which reaches the audit log through the inventory) sets where counts go.
 */
type SealCounter = (key: { id: string; kcv: string }, operation: UsageOperation) => void;

let counter: SealCounter | null = null;

export function countSealsWith(next: SealCounter | null): void {
  counter = next;
}

/**
 * One seal made by `key`. Never throws: the seal is already made and must go on being written
 * whatever happens to its count.
 */
export function countSeal(key: { id: string; kcv: string }, operation: 'audit-seal' | 'state-seal'): void {
  try {
    counter?.(key, operation);
  } catch {
    // Counting is best effort here; the counts file's own failures are logged at its flush.
  }
}
