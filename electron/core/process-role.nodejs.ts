/**
 * What this process is, in words an admin recognises ("the Merchant Key Manager app", "the
 * command mkm keys generate"): written beside the pid into the audit and key-inventory locks,
 * so that another process refused with AUDIT_BUSY or KEYS_BUSY can say who holds them.
 */
let role = 'a Merchant Key Manager process';

export function setProcessRole(text: string): void {
  role = oneLine(text) || role;
}

export function processRole(): string {
  return role;
}

/** A role read back from a lock file: one line, bounded, printable. */
export function oneLine(text: string): string {
  return text
    .replace(/[^\x20-\x7e]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 120);
}

/** "the Merchant Key Manager app (pid 4242)", or "process 4242" when the role is unknown. */
export function describeHolder(pid: number, holderRole: string | null | undefined): string {
  return holderRole ? `${holderRole} (pid ${pid})` : `process ${pid}`;
}
