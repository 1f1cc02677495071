import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ExchangeReceiptView, TrustedSigner } from '../../../shared/contract/exchange.std';
import { MkmError } from '../../../shared/errors.std';
import { issueLines } from '../../../shared/formats/schemas.std';
import { stateWritten } from '../../audit/state-seal.main';
import { writeFileAtomic } from '../../core/atomic-file.main';

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

  constructor(dir: string) {
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
    stateWritten(this.file);
    return signer;
  }

  remove(spkiSha256: string): boolean {
    const signers = this.list();
    const kept = signers.filter((s) => s.spkiSha256 !== spkiSha256);
    if (kept.length === signers.length) return false;
    write(this.file, { version: 1, signers: kept });
    stateWritten(this.file);
    return true;
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
