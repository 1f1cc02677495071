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
 * card data to (or adding a signer) is caught at the point of use: `seals.check` refuses a file
 * whose seal does not verify (STATE_TAMPERED), and, with no token logged in, refuses to vouch
 * for it at all (STATE_UNCHECKED: "log in to check"). The whole file is sealed, whatever it
 * holds. A seal proves who wrote the content, not that it is the newest: rolling a file and its
 * seal back together to an earlier state mkm itself sealed is not caught here.
 *
 * The stores stay synchronous: their save path calls `seals.written(file)`, which seals in the
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

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const messageFor = (file: string, digest: string) =>
  Buffer.from(`mkm-state-seal|v1|${basename(file)}|${digest}`, 'utf8');

function digestOf(file: string): string | null {
  return existsSync(file) ? sha256(readFileSync(file)) : null;
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
 * The seals of one app: the composition root builds one and hands it to the audit trail (which
 * lends it the audit key) and to every store of a sealed file. A store built apart from an app
 * gets its own, which has no sealer: it seals nothing and vouches for nothing.
 */
export class StateSeals {
  private active: StateSealer | null = null;
  /** Written while no token was logged in: file -> SHA-256 of what was written. */
  private readonly unsealed = new Map<string, string>();
  /** The seal in progress per file; a check waits for it. */
  private readonly sealing = new Map<string, Promise<void>>();

  /** The app's audit trail installs itself (null when it closes). */
  use(sealer: StateSealer | null): void {
    this.active = sealer;
  }

  inUse(): StateSealer | null {
    return this.active;
  }

  /** The save path of a sealed store: call right after the file was written. Never throws. */
  written(file: string): void {
    const digest = digestOf(file);
    if (digest === null) return;
    const previous = this.sealing.get(file) ?? Promise.resolve();
    const next = previous.then(() => this.sealNow(file, digest)).catch(() => undefined);
    this.sealing.set(file, next);
    void next.then(() => {
      if (this.sealing.get(file) === next) this.sealing.delete(file);
    });
  }

  private async sealNow(file: string, digest: string): Promise<void> {
    // Not waiting for a login in progress: its end seals what was written meanwhile (and it may
    // itself be what is sealing now).
    const sealer = this.active;
    const key = sealer?.current() ?? null;
    if (!sealer || !key) {
      this.unsealed.set(file, digest);
      return;
    }
    const mac = await sealer.mac(key, messageFor(file, digest));
    countSeal(sealer.countSeal, key, 'state-seal');
    // A later write is sealed by its own turn; never seal content the file no longer holds.
    if (digestOf(file) !== digest) return;
    const seal: SealFile = { v: 1, key: keyRefOut(key), mac: mac.toString('hex') };
    writeFileAtomic(file + SEAL_SUFFIX, JSON.stringify(seal) + '\n');
    this.unsealed.delete(file);
  }

  /** Whether a sealed file was written that could not be sealed yet (no token logged in). */
  unsealedWritten(): boolean {
    return this.unsealed.size > 0;
  }

  /** Resolves when every seal started so far is written (or given up): before a process ends. */
  async settled(): Promise<void> {
    while (this.sealing.size > 0) await Promise.all([...this.sealing.values()]);
  }

  /** After a login: seal what was written while no token was logged in, if unchanged. */
  async sealWrittenWhileLoggedOut(): Promise<void> {
    for (const [file, digest] of [...this.unsealed]) {
      if (digestOf(file) !== digest) {
        this.unsealed.delete(file);
        continue;
      }
      this.written(file);
      await this.sealing.get(file);
    }
  }

  /**
   * The point of use: resolves when `file` is sealed by an audit key (or does not exist); throws
   * STATE_UNCHECKED while no token is logged in and STATE_TAMPERED when the seal is missing or
   * does not match. `what` names the content for the admin ("the pinned gateway key").
   */
  async check(file: string, what: string): Promise<void> {
    await this.sealing.get(file);
    await this.active?.ready();
    const sealer = this.active;
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
    if (this.unsealed.get(file) === digest) {
      // This process wrote it before the login; seal it now rather than refuse its own write.
      await this.sealWrittenWhileLoggedOut();
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
}
