import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { maskField, type ComposeFieldName, type ComposeFields } from '../../shared/console/compose.std';
import type { ConsoleHistoryEntry } from '../../shared/contract/console.std';
import { panDigits } from '../../shared/formats/card.std';
import { writeFileAtomic } from '../core/atomic-file.main';
import type { Logger } from '../core/logger.main';

/**
 * What the console remembers of its own work: masks, and for the long numbers a salted HMAC
 * (fresh salt per entry) so two entries can be told apart or matched by someone who has the
 * value, without the history holding it. CVVs and expiration dates get no hash: with so few
 * possible values a hash would be as good as the value. Kept in memory; on disk too when the
 * user asks (one JSON file, 0600, rewritten atomically).
 */

const HASHED: readonly ComposeFieldName[] = ['number', 'accountNumber', 'routingNumber', 'swipe'];
const LIMIT = 200;

const EntrySchema = z.object({
  id: z.string(),
  at: z.string(),
  kind: z.enum(['encrypt', 'verify', 'message', 'batch']),
  profileId: z.string().nullable(),
  scheme: z.string().nullable(),
  fields: z.record(z.string(), z.object({ masked: z.string(), hash: z.string().nullable() })),
  salt: z.string().nullable(),
  outcome: z.string(),
  summary: z.string(),
});
const FileSchema = z.object({ version: z.literal(1), entries: z.array(EntrySchema) });

export interface HistoryInput {
  kind: ConsoleHistoryEntry['kind'];
  profileId: string | null;
  scheme: string | null;
  fields?: ComposeFields;
  outcome: ConsoleHistoryEntry['outcome'];
  summary: string;
}

/** The form a number is hashed in: digits only, so "4111 1111..." and "4111-1111..." match. */
function canonical(field: ComposeFieldName, value: string): string {
  return field === 'number' ? (panDigits(value) ?? value) : value;
}

export function historyHash(salt: Uint8Array, field: ComposeFieldName, value: string): string {
  return createHmac('sha256', salt).update(canonical(field, value), 'utf8').digest('hex');
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
      try {
        const parsed = FileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
        this.entries = parsed.entries as ConsoleHistoryEntry[];
        this.persist = true;
      } catch {
        this.logger.warn('ignored an unreadable console history file', { file });
      }
    }
  }

  get persistent(): boolean {
    return this.persist;
  }

  add(input: HistoryInput): ConsoleHistoryEntry {
    const given = Object.entries(input.fields ?? {}).filter(([, v]) => typeof v === 'string' && v !== '') as [
      ComposeFieldName,
      string,
    ][];
    const salt = given.some(([f]) => HASHED.includes(f)) ? randomBytes(16) : null;
    const fields: ConsoleHistoryEntry['fields'] = {};
    for (const [field, value] of given) {
      fields[field] = {
        masked: maskField(field, value),
        hash: salt && HASHED.includes(field) ? historyHash(salt, field, value) : null,
      };
    }
    const entry: ConsoleHistoryEntry = {
      id: randomUUID(),
      at: new Date().toISOString(),
      kind: input.kind,
      profileId: input.profileId,
      scheme: input.scheme,
      fields,
      salt: salt ? salt.toString('base64') : null,
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

  setPersistent(persist: boolean): void {
    this.persist = persist;
    if (persist) this.save();
    else rmSync(this.file, { force: true });
  }

  private save(): void {
    if (!this.persist) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      writeFileAtomic(this.file, JSON.stringify({ version: 1, entries: this.entries }) + '\n');
    } catch (error) {
      this.logger.warn('could not write the console history', { file: this.file, error });
    }
  }
}
