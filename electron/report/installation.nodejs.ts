import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../core/atomic-file.nodejs';

/**
 * A random id for this installation (its data folder), made on the first report, so an
 * assessor can tell which installation a report came from even when several share a path name.
 * A damaged file gets a new id; the old file is not evidence of anything.
 */
const InstallationSchema = z.strictObject({ id: z.uuid(), createdAt: z.string().max(64) });

export function installationId(dir: string, now: () => Date = () => new Date()): string {
  const file = join(dir, 'installation.json');
  if (existsSync(file)) {
    try {
      const parsed = InstallationSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (parsed.success) return parsed.data.id;
    } catch {
      // Falls through to a new id.
    }
  }
  const record = { id: randomUUID(), createdAt: now().toISOString() };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(file, JSON.stringify(record, null, 2) + '\n');
  return record.id;
}
