import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { CustodianView } from '../../shared/contract/report.std';
import { MkmError } from '../../shared/errors.std';
import { writeFileAtomic } from '../core/atomic-file.nodejs';
import { CURRENT_CUSTODIAN_TEXT, CUSTODIAN_TEXTS } from './custodian-text.std';

/**
 * Key custodians and their acknowledgements (PCI DSS v4 3.7.8), one small JSON file in the data
 * folder. Records are never deleted: a custodian who leaves is revoked, and an acknowledgement of
 * an older text is superseded when the person acknowledges the new one, so the file is the
 * history an assessor asks for. A file that fails its schema is refused with STORE_CORRUPT, never
 * reset: that would erase the evidence.
 */
const Iso = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/);

const CustodianRecordSchema = z
  .object({
    id: z.uuid(),
    name: z.string().min(1).max(128),
    role: z.string().min(1).max(128),
    textVersion: z.string().min(1).max(16),
    acknowledgedAt: Iso,
    recordedBy: z.string().max(256),
    revokedAt: Iso.nullable(),
    revokedReason: z.string().max(200).nullable(),
  })
  .strict();
type CustodianRecord = z.infer<typeof CustodianRecordSchema>;

const CustodianFileSchema = z
  .object({ schema: z.literal(1), custodians: z.array(CustodianRecordSchema).max(10_000) })
  .strict();
type CustodianFile = z.infer<typeof CustodianFileSchema>;

export const CUSTODIANS_FILE = 'custodians.json';

export interface CustodianStoreOptions {
  /** The report's folder in the data folder, DataPaths.report. */
  dir: string;
  osUser: string;
  clock?: () => Date;
}

export class CustodianStore {
  private readonly file: string;
  private readonly clock: () => Date;

  constructor(private readonly options: CustodianStoreOptions) {
    this.file = join(options.dir, CUSTODIANS_FILE);
    this.clock = options.clock ?? (() => new Date());
  }

  list(): CustodianView[] {
    return this.read().custodians.map(view);
  }

  acknowledge(request: { name: string; role: string; textVersion: string }): CustodianView {
    const name = request.name.trim();
    const role = request.role.trim();
    if (request.textVersion !== CURRENT_CUSTODIAN_TEXT.version) {
      const known = CUSTODIAN_TEXTS.some((t) => t.version === request.textVersion);
      throw new MkmError(
        'CONFLICT',
        known
          ? `The responsibilities text changed (now version ${CURRENT_CUSTODIAN_TEXT.version}); show the new text and acknowledge that.`
          : `There is no responsibilities text version “${request.textVersion}”.`,
        { textVersion: request.textVersion, current: CURRENT_CUSTODIAN_TEXT.version },
      );
    }
    const data = this.read();
    const now = this.clock().toISOString();
    const same = (r: CustodianRecord) => r.revokedAt === null && r.name.toLowerCase() === name.toLowerCase();
    if (data.custodians.some((r) => same(r) && r.textVersion === request.textVersion)) {
      throw new MkmError(
        'CONFLICT',
        `${name} has already acknowledged version ${request.textVersion} of the responsibilities.`,
        { name },
      );
    }
    for (const r of data.custodians.filter(same)) {
      r.revokedAt = now;
      r.revokedReason = `superseded by the acknowledgement of version ${request.textVersion}`;
    }
    const record: CustodianRecord = {
      id: randomUUID(),
      name,
      role,
      textVersion: request.textVersion,
      acknowledgedAt: now,
      recordedBy: this.options.osUser,
      revokedAt: null,
      revokedReason: null,
    };
    data.custodians.push(record);
    this.write(data);
    return view(record);
  }

  revoke(id: string, reason?: string): CustodianView {
    const data = this.read();
    const record = data.custodians.find((r) => r.id === id);
    if (!record) throw new MkmError('NOT_FOUND', 'No key custodian with that id.', { id });
    if (record.revokedAt !== null) {
      throw new MkmError('CONFLICT', `${record.name}'s acknowledgement was already revoked.`, { id });
    }
    record.revokedAt = this.clock().toISOString();
    record.revokedReason = reason?.trim() || 'no longer a key custodian';
    this.write(data);
    return view(record);
  }

  private read(): CustodianFile {
    if (!existsSync(this.file)) return { schema: 1, custodians: [] };
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (error) {
      throw corrupt(this.file, error instanceof Error ? error.message : 'unreadable');
    }
    const parsed = CustodianFileSchema.safeParse(raw);
    if (!parsed.success) throw corrupt(this.file, parsed.error.issues[0]?.message ?? 'schema');
    return parsed.data;
  }

  private write(data: CustodianFile): void {
    mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file, JSON.stringify(CustodianFileSchema.parse(data), null, 2) + '\n');
  }
}

function view(r: CustodianRecord): CustodianView {
  return { ...r, current: r.revokedAt === null && r.textVersion === CURRENT_CUSTODIAN_TEXT.version };
}

function corrupt(file: string, reason: string): MkmError {
  return new MkmError(
    'STORE_CORRUPT',
    `The key custodian file ${file} is damaged (${reason.slice(0, 120)}). It was left as it is: restore it from a backup; mkm will not overwrite it.`,
    { file },
  );
}
