import { z } from 'zod';

/**
 * The use history of key versions and gateway keys: a total, uses per UTC day (bounded), uses per
 * operation and the last use. Pure: the service (usage.nodejs.ts) reads, merges and writes it.
 */

/** Every operation a use is counted under; the names appear in the audit log and the UI. */
export const USAGE_OPERATIONS = [
  'encrypt',
  'decrypt',
  'mac',
  'verify',
  'sign',
  'key-set-unwrap',
  'cse-encrypt',
  'key-block-export',
  'key-block-import',
  'audit-seal',
  'state-seal',
] as const;
export type UsageOperation = (typeof USAGE_OPERATIONS)[number];

/** Days of history kept per key: a year's crypto-period and a margin, so the file stays small. */
export const USAGE_DAYS_KEPT = 400;

export const USAGE_FORMAT = 'mkm-key-usage';

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const Count = z.number().int().min(0);

export const UsageEntrySchema = z
  .object({
    total: Count,
    days: z.record(Day, Count),
    operations: z.partialRecord(z.enum(USAGE_OPERATIONS), Count),
    lastAt: z.string().nullable(),
    lastOperation: z.enum(USAGE_OPERATIONS).nullable(),
  })
  .strict();
export type UsageEntry = z.infer<typeof UsageEntrySchema>;

export const UsageFileSchema = z
  .object({
    format: z.literal(USAGE_FORMAT),
    schemaVersion: z.literal(1),
    /** Managed key versions, by version id. */
    versions: z.record(z.string().max(64), UsageEntrySchema),
    /** Pinned gateway public keys (client-side encryption), by SPKI SHA-256. */
    gatewayKeys: z.record(z.string().max(128), UsageEntrySchema),
    /** mkm's audit keys on the token (audit and state seals), by auditKeyName(). Absent before. */
    auditKeys: z.record(z.string().max(200), UsageEntrySchema).default({}),
  })
  .strict();
export type UsageFile = z.infer<typeof UsageFileSchema>;

export const EMPTY_USAGE: UsageFile = {
  format: USAGE_FORMAT,
  schemaVersion: 1,
  versions: {},
  gatewayKeys: {},
  auditKeys: {},
};

/** How an audit key is named in the counts: its CKA_ID and KCV (a key replaced under the same id differs). */
export function auditKeyName(key: { id: string; kcv: string }): string {
  return `${key.id.toLowerCase()}:${key.kcv.toLowerCase()}`;
}

export const emptyEntry = (): UsageEntry => ({
  total: 0,
  days: {},
  operations: {},
  lastAt: null,
  lastOperation: null,
});

/** Adds `n` uses by `operation` at `at` (ISO time) to an entry (a new object). */
export function addUses(
  entry: UsageEntry | undefined,
  operation: UsageOperation,
  n: number,
  at: string,
): UsageEntry {
  const e = entry ? structuredClone(entry) : emptyEntry();
  const day = at.slice(0, 10);
  e.total += n;
  e.days[day] = (e.days[day] ?? 0) + n;
  e.operations[operation] = (e.operations[operation] ?? 0) + n;
  if (e.lastAt === null || at >= e.lastAt) {
    e.lastAt = at;
    e.lastOperation = operation;
  }
  return e;
}

/** Adds what `more` holds to `base` (a new object), keeping the newest USAGE_DAYS_KEPT days. */
export function mergeEntries(base: UsageEntry | undefined, more: UsageEntry): UsageEntry {
  const e = base ? structuredClone(base) : emptyEntry();
  e.total += more.total;
  for (const [day, n] of Object.entries(more.days)) e.days[day] = (e.days[day] ?? 0) + n;
  for (const [op, n] of Object.entries(more.operations) as [UsageOperation, number][])
    e.operations[op] = (e.operations[op] ?? 0) + n;
  if (more.lastAt !== null && (e.lastAt === null || more.lastAt >= e.lastAt)) {
    e.lastAt = more.lastAt;
    e.lastOperation = more.lastOperation;
  }
  const days = Object.keys(e.days).sort();
  for (const day of days.slice(0, Math.max(0, days.length - USAGE_DAYS_KEPT))) delete e.days[day];
  return e;
}

export type UseLevel = 'ok' | 'warning' | 'reached';

/** Where a count stands against a limit: `warning` from warnFraction of it, `reached` at it. */
export function useLevel(uses: number, maxUses: number | null, warnFraction: number): UseLevel {
  if (maxUses === null) return 'ok';
  if (uses >= maxUses) return 'reached';
  if (uses >= Math.floor(+(maxUses * warnFraction).toFixed(6))) return 'warning';
  return 'ok';
}

/** The days of an entry from `since` (YYYY-MM-DD, inclusive), oldest first. */
export function daysSince(
  entry: UsageEntry | undefined,
  since: string | null,
): { day: string; uses: number }[] {
  if (!entry) return [];
  return Object.entries(entry.days)
    .filter(([day]) => since === null || day >= since)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([day, uses]) => ({ day, uses }));
}
