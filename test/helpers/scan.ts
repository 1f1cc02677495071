import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/**
 * Which secrets appear in which files, in the forms a leak takes: as typed, and as the hex or
 * base64 of their bytes (key material rarely leaks as text).
 */
export function findSecrets(dirs: string[], secrets: string[]): string[] {
  const forms = secrets.flatMap((s) => [
    s,
    Buffer.from(s).toString('hex'),
    Buffer.from(s).toString('base64').replace(/=+$/, ''),
  ]);
  const leaks: string[] = [];
  for (const file of dirs.flatMap(filesUnder)) {
    const text = readFileSync(file).toString('latin1');
    for (const form of forms) if (text.includes(form)) leaks.push(`${file}: ${form.slice(0, 4)}…`);
  }
  return leaks;
}
