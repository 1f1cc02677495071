import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type {
  ExchangePolicy,
  ExchangeReceiptView,
  TrustedSigner,
} from '../../../shared/contract/exchange.std';
import { MkmError } from '../../../shared/errors.std';
import { issueLines } from '../../../shared/formats/schemas.std';
import type { StateSeals } from '../../audit/state-seal.nodejs';
import { writeFileAtomic } from '../../core/atomic-file.nodejs';

/**
 * The exchange domain's two small files in `<data>/exchange/` (0600, rewritten atomically):
 * - trusted-signers.json: the package signers this installation trusts. A damaged file is an
 *   error, never an empty list silently rewritten (that would drop every trust decision) nor a
 *   list silently kept (it could have been edited to add a signer).
 * - receipts.json: per gateway profile, what the gateway answered to registrations uploaded from
 *   packages, so a gateway-key package made later can carry them back to the air-gapped side.
 * Neither holds a secret: fingerprints, names, key ids and dates.
 */

const SHA256 = z.string().regex(/^[0-9a-f]{64}$/);

const SignersFile = z.strictObject({
  version: z.literal(1),
  signers: z.array(
    z.strictObject({
      spkiSha256: SHA256,
      name: z.string().max(128),
      addedAt: z.string(),
      addedBy: z.string(),
    }),
  ),
});

const ReceiptSchema = z.strictObject({
  keyId: z.string(),
  spkiSha256: SHA256,
  wrapping: z.enum(['RSAES-OAEP-SHA256', 'RSAES-OAEP-SHA1']),
  status: z.enum(['active', 'retired']),
  registeredAt: z.string(),
  created: z.boolean(),
});
const ReceiptsFile = z.strictObject({
  version: z.literal(1),
  profiles: z.record(z.string(), z.array(ReceiptSchema)),
});

function readJson<T extends z.ZodType>(
  file: string,
  schema: T,
  empty: z.output<T>,
  what: string,
): z.output<T> {
  if (!existsSync(file)) return empty;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new MkmError('STORE_CORRUPT', `The ${what} file is not valid JSON.`, { file });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new MkmError('STORE_CORRUPT', `The ${what} file is damaged.`, {
      file,
      issues: issueLines(parsed.error),
    });
  }
  return parsed.data;
}

function write(file: string, value: unknown): void {
  try {
    writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
  } catch (error) {
    throw new MkmError('IO_ERROR', 'An exchange file could not be written.', {
      file,
      reason: (error as { code?: string }).code ?? 'unknown',
    });
  }
}

export class TrustedSignersStore {
  readonly file: string;

  constructor(
    dir: string,
    private readonly seals: StateSeals,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = join(dir, 'trusted-signers.json');
  }

  list(): TrustedSigner[] {
    return readJson(this.file, SignersFile, { version: 1, signers: [] }, 'trusted signers').signers;
  }

  find(spkiSha256: string): TrustedSigner | undefined {
    return this.list().find((s) => s.spkiSha256 === spkiSha256);
  }

  add(signer: TrustedSigner): TrustedSigner {
    const signers = this.list();
    const known = signers.find((s) => s.spkiSha256 === signer.spkiSha256);
    if (known) {
      throw new MkmError('CONFLICT', `This signer is already trusted as "${known.name}".`, {
        spkiSha256: signer.spkiSha256,
      });
    }
    write(this.file, { version: 1, signers: [...signers, signer] });
    this.seals.written(this.file);
    return signer;
  }

  remove(spkiSha256: string): boolean {
    const signers = this.list();
    const kept = signers.filter((s) => s.spkiSha256 !== spkiSha256);
    if (kept.length === signers.length) return false;
    write(this.file, { version: 1, signers: kept });
    this.seals.written(this.file);
    return true;
  }

  /** Resolves while the token's seal vouches for the list; STATE_TAMPERED / STATE_UNCHECKED else. */
  check(): Promise<void> {
    return this.seals.check(this.file, 'the trusted signers list');
  }
}

export class ReceiptsStore {
  readonly file: string;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = join(dir, 'receipts.json');
  }

  private read() {
    return readJson(this.file, ReceiptsFile, { version: 1, profiles: {} }, 'registration receipts');
  }

  list(profileId: string): ExchangeReceiptView[] {
    return this.read().profiles[profileId] ?? [];
  }

  /** The newest answer per key id wins. */
  record(profileId: string, receipts: ExchangeReceiptView[]): void {
    const all = this.read();
    const ids = new Set(receipts.map((r) => r.keyId));
    all.profiles[profileId] = [
      ...(all.profiles[profileId] ?? []).filter((r) => !ids.has(r.keyId)),
      ...receipts,
    ];
    write(this.file, all);
  }
}

// ---------------------------------------------------------------- seen package ids

const SeenEntry = z.strictObject({
  id: z.uuid(),
  purpose: z.string().max(64),
  expires: z.iso.datetime({ offset: true }),
  importedAt: z.string().max(64),
  packageSha256: SHA256,
});
export type SeenPackage = z.infer<typeof SeenEntry>;

/** At most this many unexpired ids are remembered; past it an import is refused, never forgotten. */
export const SEEN_MAX = 10_000;
/** An id is kept this long past its package's expiry, for clocks that disagree. */
const SEEN_GRACE_MS = 86_400_000;

/**
 * The ids of packages imported here (`<data>/exchange/seen/<id>.json`), so that the same package
 * is never acted on twice. One file per id, created exclusively: the claim is atomic between the
 * app, browser mode and the CLI sharing the data folder, with no read-modify-write of a shared
 * list to lose an id in. An id is claimed before the import acts and released only when the
 * import failed; it is forgotten a day after its package expired (a verifier refuses an expired
 * package anyway, and a package lives at most EXCHANGE_MAX_LIFETIME_DAYS), which bounds the folder.
 */
export class SeenPackagesStore {
  readonly dir: string;

  constructor(
    exchangeDir: string,
    private readonly max = SEEN_MAX,
  ) {
    this.dir = join(exchangeDir, 'seen');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(id: string): string {
    // The id is a schema-checked UUID; checked again, as it names a file.
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new MkmError('VALIDATION', 'Not a package id.', { id });
    return join(this.dir, `${id.toLowerCase()}.json`);
  }

  find(id: string): SeenPackage | null {
    const file = this.file(id);
    if (!existsSync(file)) return null;
    return readJson(file, SeenEntry, null as never, 'seen package');
  }

  /**
   * Claims the id, or refuses: EXCHANGE_REPLAYED when it was claimed before (a damaged entry
   * counts as claimed), EXCHANGE_SEEN_STORE_FULL when SEEN_MAX unexpired ids are held.
   */
  claim(entry: SeenPackage, now: Date): void {
    const live = this.prune(now);
    if (live >= this.max) {
      throw new MkmError(
        'EXCHANGE_SEEN_STORE_FULL',
        `${live} imported packages have not expired yet; no more can be imported until some do.`,
        { reason: 'seen-store-full', live, limit: this.max },
      );
    }
    const file = this.file(entry.id);
    try {
      writeFileSync(file, JSON.stringify(entry, null, 2) + '\n', { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') {
        throw new MkmError('IO_ERROR', 'The record of imported packages could not be written.', {
          file,
          reason: (error as { code?: string }).code ?? 'unknown',
        });
      }
      let importedAt: string | null = null;
      try {
        importedAt = this.find(entry.id)?.importedAt ?? null;
      } catch {
        // damaged: still a claim
      }
      throw new MkmError(
        'EXCHANGE_REPLAYED',
        `This package (${entry.id}) was already imported here${importedAt ? ` at ${importedAt}` : ''}; a package is imported once. Ask for a fresh one.`,
        { reason: 'replayed', packageId: entry.id, importedAt },
      );
    }
  }

  /** Gives the id back after an import that did nothing, so the same file can be tried again. */
  release(id: string): void {
    rmSync(this.file(id), { force: true });
  }

  /** Forgets ids whose packages expired more than a day ago; returns how many remain. */
  private prune(now: Date): number {
    let live = 0;
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const file = join(this.dir, name);
      let expires: number;
      try {
        expires = Date.parse(readJson(file, SeenEntry, null as never, 'seen package').expires);
      } catch {
        live++; // a damaged entry is kept: forgetting it could let its package in again
        continue;
      }
      if (expires + SEEN_GRACE_MS < now.getTime()) rmSync(file, { force: true });
      else live++;
    }
    return live;
  }
}

// ---------------------------------------------------------------- signature policy

const PolicyFile = z.strictObject({
  version: z.literal(1),
  requirePss: z.boolean(),
  changedAt: z.string().max(64),
  changedBy: z.string().max(256),
});

/**
 * `<data>/exchange/policy.json`: whether packages signed with PKCS#1 v1.5 are refused. No file:
 * PSS and PKCS#1 v1.5 are both accepted. A damaged file is an error (STORE_CORRUPT), never read
 * as the looser default.
 */
export class ExchangePolicyStore {
  readonly file: string;

  constructor(exchangeDir: string) {
    mkdirSync(exchangeDir, { recursive: true, mode: 0o700 });
    this.file = join(exchangeDir, 'policy.json');
  }

  get(): ExchangePolicy {
    if (!existsSync(this.file)) return { requirePss: false, changedAt: null, changedBy: null };
    const { requirePss, changedAt, changedBy } = readJson(
      this.file,
      PolicyFile,
      null as never,
      'exchange policy',
    );
    return { requirePss, changedAt, changedBy };
  }

  set(requirePss: boolean, changedAt: string, changedBy: string): ExchangePolicy {
    write(this.file, { version: 1, requirePss, changedAt, changedBy });
    return { requirePss, changedAt, changedBy };
  }
}
