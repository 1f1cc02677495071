import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { groupComponent } from '../../shared/formats/component-entry.std';

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

/** Every spelling a leaked key, component or share takes: hex both cases, base64, groups of four. */
export function secretSpellings(bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes);
  const hex = b.toString('hex');
  const grouped = groupComponent(bytes);
  return [
    hex,
    hex.toUpperCase(),
    b.toString('base64'),
    b.toString('base64').replace(/=+$/, ''),
    b.toString('base64url'),
    grouped,
    grouped.toLowerCase(),
    grouped.replace(/ /g, '-'),
  ];
}

/** Which files under `dir` hold any secret in any spelling (or raw), or any of the `extra` strings. */
export function leaksUnder(dir: string, secrets: Uint8Array[], extra: string[] = []): string[] {
  const forms = [...secrets.flatMap(secretSpellings), ...extra];
  const found: string[] = [];
  for (const file of filesUnder(dir)) {
    const raw = readFileSync(file);
    const text = raw.toString('latin1');
    for (const f of forms) if (text.includes(f)) found.push(`${file}: ${f.slice(0, 4)}…`);
    for (const s of secrets) if (raw.includes(Buffer.from(s))) found.push(`${file}: raw bytes`);
  }
  return found;
}
