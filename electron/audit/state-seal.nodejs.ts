import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import { writeFileAtomic } from '../core/atomic-file.nodejs';
import { countSeal, type SealCounter } from '../lifecycle/usage-seals.nodejs';
import { isPlainObject } from './record.nodejs';
import { SEAL_KINDS, keyRefOut, type AuditKeyHandle, type SealKind } from './sealer.nodejs';

/**
 * Sealed state files: the small JSON files whose content decides whom mkm trusts (the pinned
 * gateway key in `gateway/gateway-<profile>.json`, the trusted package signers in
 * `exchange/trusted-signers.json`) carry a seal beside them, `<file>.seal`:
 *
 *   { v: 1, key: { id, kcv }, mac: HMAC-SHA256(audit key, "mkm-state-seal|v1|<name>|<sha256 of the file>") }
 *
 * made on the token with the audit key, like the audit log's seals. Whoever can write the data
 * folder but does not hold the token cannot make one, so swapping the key the console encrypts
 * card data to (or adding a signer) is caught at the point of use: `checkState` refuses a file
 * whose seal does not verify (STATE_TAMPERED), and, with no token logged in, refuses to vouch
 * for it at all (STATE_UNCHECKED: "log in to check"). The whole file is sealed, whatever it
 * holds. A seal proves who wrote the content, not that it is the newest: rolling a file and its
 * seal back together to an earlier state mkm itself sealed is not caught here.
 *
 * The stores stay synchronous: their save path calls `stateWritten(file)`, which seals in the
 * background (one seal at a time per file, and only if the file still holds what was written).
 * A file written while no token is logged in is sealed at the next login of this process if it
 * is unchanged by then; otherwise it stays unsealed and is refused until it is written again
 * (re-pinned) with a token logged in.
 */
export const SEAL_SUFFIX = '.seal';

/** What the audit trail lends: its current audit key on the logged-in token, and MACs by it. */
export interface StateSealer {
  /** Resolves once a login in progress has attached (or failed to attach) the audit key. */
  ready(): Promise<void>;
  /** The audit key sealing now; null while no token is logged in. */
  current(): AuditKeyHandle | null;
  /** Why the logged-in token cannot seal (it can make no audit key), or null. */
  impossible?(): string | null;
  /** The seal on the token by `key` (a MAC or a signature, by its kind), an audit key the log pins. */
  mac(key: AuditKeyHandle, message: Buffer): Promise<Buffer>;
  /** Whether `mac` is `key`'s seal of `message` (a signature cannot be recomputed and compared). */
  verify(key: AuditKeyHandle, message: Buffer, mac: Buffer): Promise<boolean>;
  /** Counts each state seal as a use of the audit key (the app's usage service). */
  countSeal?: SealCounter;
}

interface SealFile {
  v: 1;
  key: AuditKeyHandle;
  mac: string;
}

let active: StateSealer | null = null;
/** Written by this process while no token was logged in: file -> SHA-256 of what it wrote. */
const unsealed = new Map<string, string>();
/** The seal in progress per file; a check waits for it. */
const sealing = new Map<string, Promise<void>>();

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const messageFor = (file: string, digest: string) =>
  Buffer.from(`mkm-state-seal|v1|${basename(file)}|${digest}`, 'utf8');

function digestOf(file: string): string | null {
  return existsSync(file) ? sha256(readFileSync(file)) : null;
}

/** The app's audit trail installs itself (null when it closes); one per process. */
export function useStateSealer(sealer: StateSealer | null): void {
  active = sealer;
}

export function stateSealerInUse(): StateSealer | null {
  return active;
}

/** The save path of a sealed store: call right after the file was written. Never throws. */
export function stateWritten(file: string): void {
  const digest = digestOf(file);
  if (digest === null) return;
  const previous = sealing.get(file) ?? Promise.resolve();
  const next = previous.then(() => sealNow(file, digest)).catch(() => undefined);
  sealing.set(file, next);
  void next.then(() => {
    if (sealing.get(file) === next) sealing.delete(file);
  });
}

async function sealNow(file: string, digest: string): Promise<void> {
  // Not waiting for a login in progress: its end seals what was written meanwhile (and it may
  // itself be what is sealing now).
  const sealer = active;
  const key = sealer?.current() ?? null;
  if (!sealer || !key) {
    unsealed.set(file, digest);
    return;
  }
  const mac = await sealer.mac(key, messageFor(file, digest));
  countSeal(sealer.countSeal, key, 'state-seal');
  // A later write is sealed by its own turn; never seal content the file no longer holds.
  if (digestOf(file) !== digest) return;
  const seal: SealFile = { v: 1, key: keyRefOut(key), mac: mac.toString('hex') };
  writeFileAtomic(file + SEAL_SUFFIX, JSON.stringify(seal) + '\n');
  unsealed.delete(file);
}

/** Whether this process wrote a sealed file it could not seal yet (no token logged in). */
export function unsealedStateWritten(): boolean {
  return unsealed.size > 0;
}

/** Resolves when every seal started so far is written (or given up): before a process ends. */
export async function stateSealsSettled(): Promise<void> {
  while (sealing.size > 0) await Promise.all([...sealing.values()]);
}

/** After a login: seal what this process wrote while no token was logged in, if unchanged. */
export async function sealWrittenWhileLoggedOut(): Promise<void> {
  for (const [file, digest] of [...unsealed]) {
    if (digestOf(file) !== digest) {
      unsealed.delete(file);
      continue;
    }
    stateWritten(file);
    await sealing.get(file);
  }
}

function readSeal(file: string): SealFile | null {
  try {
    const raw: unknown = JSON.parse(readFileSync(file + SEAL_SUFFIX, 'utf8'));
    if (
      isPlainObject(raw) &&
      raw.v === 1 &&
      isPlainObject(raw.key) &&
      typeof raw.key.id === 'string' &&
      typeof raw.key.kcv === 'string' &&
      (raw.key.kind === undefined || SEAL_KINDS.includes(raw.key.kind as SealKind)) &&
      typeof raw.mac === 'string' &&
      /^(?:[0-9a-f]{2}){16,512}$/.test(raw.mac)
    ) {
      return raw as unknown as SealFile;
    }
  } catch {
    // missing or unreadable: no seal
  }
  return null;
}

/**
 * The point of use: resolves when `file` is sealed by an audit key (or does not exist); throws
 * STATE_UNCHECKED while no token is logged in and STATE_TAMPERED when the seal is missing or
 * does not match. `what` names the content for the admin ("the pinned gateway key").
 */
export async function checkState(file: string, what: string): Promise<void> {
  await sealing.get(file);
  await active?.ready();
  const sealer = active;
  // No audit trail in this process (a store used on its own): there is no token to check with.
  if (!sealer) return;
  const digest = digestOf(file);
  if (digest === null) return;
  const key = sealer.current();
  const impossible = sealer.impossible?.() ?? null;
  if (!key && impossible) {
    throw new MkmError(
      'STATE_UNCHECKED',
      `${what[0]!.toUpperCase()}${what.slice(1)} cannot be checked: its seal needs an audit key and ${impossible}.`,
      { file: basename(file), reason: impossible },
    );
  }
  if (!key) {
    throw new MkmError(
      'STATE_UNCHECKED',
      `Log in to the token to check ${what}: its seal can only be checked with the audit key.`,
      { file: basename(file) },
    );
  }
  if (unsealed.get(file) === digest) {
    // This process wrote it before the login; seal it now rather than refuse its own write.
    await sealWrittenWhileLoggedOut();
  }
  const seal = readSeal(file);
  const tampered = (reason: string) =>
    new MkmError(
      'STATE_TAMPERED',
      `${what[0]!.toUpperCase()}${what.slice(1)} is not used: ${basename(file)} ${reason}. Check it, then pin it again while logged in.`,
      { file: basename(file), reason },
    );
  if (!seal) throw tampered('has no seal (it was written outside mkm, or while no token was logged in)');
  let matches: boolean;
  try {
    matches = await sealer.verify(seal.key, messageFor(file, digest), Buffer.from(seal.mac, 'hex'));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'STATE_TAMPERED') throw tampered('is sealed with a key that is not an audit key');
    throw error;
  }
  if (!matches) {
    throw tampered('does not match its seal: it was changed after mkm sealed it');
  }
}
