/**
 * Faults the sandbox can be told to commit once, so tests can prove a client survives each.
 * Armed per user, so two test runs against one sandbox do not trip each other.
 */
export const FAULT_KINDS = [
  'timeout',
  '500',
  'truncated',
  'bad_kcv',
  'bad_mac',
  'replay_set',
  // Contract 1.1: the next set has no `sig`, or is signed by a key that is not the gateway's.
  'unsigned_set',
  'forged_set',
  'none',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Where a call can show a fault: every key or secure call can hang, fail or be cut short. */
export interface FaultSite {
  /** The response carries a next_key_set (register, key_sets, secure). */
  issuesSet: boolean;
  /** The response is a MACed envelope (secure). */
  macs: boolean;
}

export function faultApplies(kind: FaultKind, site: FaultSite): boolean {
  switch (kind) {
    case 'timeout':
    case '500':
    case 'truncated':
      return true;
    case 'bad_kcv':
    case 'replay_set':
    case 'unsigned_set':
    case 'forged_set':
      return site.issuesSet;
    case 'bad_mac':
      return site.macs;
    case 'none':
      return false;
  }
}

export class FaultBoard {
  private readonly armed = new Map<string, Exclude<FaultKind, 'none'>>();

  arm(user: string, kind: FaultKind): void {
    if (kind === 'none') this.armed.delete(user);
    else this.armed.set(user, kind);
  }

  peek(user: string): FaultKind {
    return this.armed.get(user) ?? 'none';
  }

  /**
   * Takes the armed fault if this call can show it. A fault that cannot (bad_mac on a
   * key_sets call) stays armed for the next call that can, rather than vanishing unseen.
   */
  take(user: string, site: FaultSite): FaultKind {
    const kind = this.peek(user);
    if (!faultApplies(kind, site)) return 'none';
    this.armed.delete(user);
    return kind;
  }
}
