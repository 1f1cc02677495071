import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { maskField, type ComposeFields } from '../../shared/console/compose.std';
import type { ConsoleHistoryEntry } from '../../shared/contract/console.std';
import { MkmError } from '../../shared/errors.std';
import { writeFileAtomic } from '../core/atomic-file.nodejs';
import type { Logger } from '../core/logger.nodejs';

/**
 * What the console remembers of its own work: masks only (a card number's first six and last
 * four, the last four of an account number), kinds, outcomes. No hash or HMAC of any value: with
 * the first six and last four beside it, a digest of a card number falls to a search of 10^6
 * candidates whatever the salt, and a key mkm could read to make a keyed tag, the holder of
 * this file could read as well (PCI DSS v4 3.5.1.1). "Was this the same card as before?" is
 * therefore not offered. Kept in memory; on disk too when the user asks (one JSON file, 0600,
 * rewritten atomically).
 */

const LIMIT = 200;
/** A mask shows at most first six and last four: a value with more digits is no mask. */
const MASK_DIGITS_MAX = 10;

const Base = {
  id: z.string(),
  at: z.string(),
  kind: z.enum(['encrypt', 'verify', 'message', 'batch']),
  profileId: z.string().nullable(),
  scheme: z.string().nullable(),
  outcome: z.string(),
  summary: z.string(),
};
const Masked = z.object({ masked: z.string() });
const FileSchema = z.discriminatedUnion('version', [
  z.object({
    version: z.literal(2),
    entries: z.array(z.object({ ...Base, fields: z.record(z.string(), Masked) })),
  }),
  // Version 1 kept HMAC-SHA256(salt, value) and the salt beside each mask: read for its masks
  // only (zod drops `hash` and `salt`), then the file is rewritten as version 2.
  z.object({
    version: z.literal(1),
    entries: z.array(
      z.object({ ...Base, fields: z.record(z.string(), Masked.extend({ hash: z.string().nullable() })) }),
    ),
  }),
]);

export interface HistoryInput {
  kind: ConsoleHistoryEntry['kind'];
  profileId: string | null;
  scheme: string | null;
  fields?: ComposeFields;
  outcome: ConsoleHistoryEntry['outcome'];
  summary: string;
}

/** An entry as the file holds it, with nothing but masks (and no mask that shows too much). */
function maskedOnly(entry: z.infer<typeof FileSchema>['entries'][number]): ConsoleHistoryEntry {
  const fields: ConsoleHistoryEntry['fields'] = {};
  for (const [name, v] of Object.entries(entry.fields)) {
    if ((v.masked.match(/\d/g) ?? []).length <= MASK_DIGITS_MAX) {
      fields[name as keyof ConsoleHistoryEntry['fields']] = { masked: v.masked };
    }
  }
  return {
    id: entry.id,
    at: entry.at,
    kind: entry.kind,
    profileId: entry.profileId,
    scheme: entry.scheme,
    fields,
    outcome: entry.outcome as ConsoleHistoryEntry['outcome'],
    summary: entry.summary,
  };
}

export class ConsoleHistory {
  private entries: ConsoleHistoryEntry[] = [];
  private persist = false;

  constructor(
    readonly file: string,
    private readonly logger: Logger,
  ) {
    // A history file left by an earlier run means the user chose to keep it.
    if (existsSync(file)) {
      let version: number;
      try {
        const parsed = FileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
        this.entries = parsed.entries.map(maskedOnly);
        version = parsed.version;
        this.persist = true;
      } catch {
        this.logger.warn('ignored an unreadable console history file', { file });
        return;
      }
      if (version !== 2) this.migrate();
    }
  }

  get persistent(): boolean {
    return this.persist;
  }

  add(input: HistoryInput): ConsoleHistoryEntry {
    const fields: ConsoleHistoryEntry['fields'] = {};
    for (const [field, value] of Object.entries(input.fields ?? {}) as [keyof ComposeFields, unknown][]) {
      if (typeof value === 'string' && value !== '') fields[field] = { masked: maskField(field, value) };
    }
    const entry: ConsoleHistoryEntry = {
      id: randomUUID(),
      at: new Date().toISOString(),
      kind: input.kind,
      profileId: input.profileId,
      scheme: input.scheme,
      fields,
      outcome: input.outcome,
      summary: input.summary,
    };
    this.entries.unshift(entry);
    if (this.entries.length > LIMIT) this.entries.length = LIMIT;
    this.save();
    return entry;
  }

  list(limit = 100): ConsoleHistoryEntry[] {
    return this.entries.slice(0, limit);
  }

  clear(): number {
    const n = this.entries.length;
    this.entries = [];
    if (existsSync(this.file)) rmSync(this.file, { force: true });
    if (this.persist) this.save();
    return n;
  }

  /** Refused with IO_ERROR when the file cannot be written: "kept on disk" must hold. */
  setPersistent(persist: boolean): void {
    if (!persist) {
      this.persist = false;
      rmSync(this.file, { force: true });
      return;
    }
    try {
      this.write();
    } catch (error) {
      throw new MkmError('IO_ERROR', 'The console history could not be written to disk.', {
        file: this.file,
        reason: (error as { code?: string }).code ?? 'unknown',
      });
    }
    this.persist = true;
  }

  /**
   * The salted hashes of a version 1 file leave the disk at load, not at the next entry. A file
   * that cannot be rewritten is removed (its masks stay in memory for this run): never left with
   * its hashes.
   */
  private migrate(): void {
    try {
      this.write();
      this.logger.info('console history migrated: salted hashes dropped, masks kept', {
        file: this.file,
        entries: this.entries.length,
      });
    } catch (error) {
      this.persist = false;
      try {
        rmSync(this.file, { force: true });
        this.logger.warn('could not rewrite the old console history; removed it', { file: this.file, error });
      } catch (removal) {
        this.logger.error('an old console history with salted hashes could not be rewritten or removed', {
          file: this.file,
          error: removal,
        });
      }
    }
  }

  private write(): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file, JSON.stringify({ version: 2, entries: this.entries }) + '\n');
  }

  private save(): void {
    if (!this.persist) return;
    try {
      this.write();
    } catch (error) {
      this.logger.warn('could not write the console history', { file: this.file, error });
    }
  }
}
