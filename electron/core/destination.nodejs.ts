import { randomUUID } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import type { SenderInfo } from './registry.nodejs';

/**
 * Where main reads and writes files a user asked for. A page never names a path: the desktop
 * app's own dialogs choose it (main side), browser mode uploads and downloads through main, and
 * the CLI (the user's own shell) gives paths. Every destination, whoever chose it, stays out of
 * the app's data folder, and an existing file is replaced only after a confirmation.
 */

export type DialogPurpose = 'pkcs11-library' | 'batch-input' | 'batch-output' | 'support-bundle';

/** Electron's dialogs (dialog.showOpenDialog / showSaveDialog), kept behind this seam. */
export interface FileDialogs {
  open(options: { title: string; purpose: DialogPurpose }): Promise<string | null>;
  /** The OS dialog itself asks before replacing a file, so a path it returns is confirmed. */
  save(options: { title: string; defaultName: string; purpose: DialogPurpose }): Promise<string | null>;
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function inside(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep);
}

/**
 * The file main will write: absolute, in an existing folder, not inside the data folder (nor
 * through a symlink into it), and new unless `overwrite` says replacing was confirmed.
 */
export function checkDestination(path: string, options: { dataDir: string; overwrite: boolean }): string {
  const target = refuseInDataFolder(path, options.dataDir);
  const existing = lstatOrNull(target);
  if (existing && !options.overwrite) throw new MkmError('DESTINATION_EXISTS', undefined, { path });
  if (existing && !existing.isFile() && !existing.isSymbolicLink()) {
    throw new MkmError('VALIDATION', 'That name is taken by a folder or a device, not a file.', { path });
  }
  return target;
}

/** The path with its folder's symlinks resolved, refused when it is (or leads) into the data folder. */
export function refuseInDataFolder(path: string, dataDir: string): string {
  if (!isAbsolute(path)) throw new MkmError('VALIDATION', 'Give the full path of the file.', { path });
  let folder: string;
  try {
    folder = realpathSync(dirname(path));
    if (!statSync(folder).isDirectory()) throw new Error('not a folder');
  } catch {
    throw new MkmError('NOT_FOUND', 'The folder to save into does not exist.', { path });
  }
  const target = join(folder, basename(path));
  const effective = lstatOrNull(target)?.isSymbolicLink() ? real(target) : target;
  const dataDirs = [resolve(dataDir), real(dataDir)];
  if (dataDirs.some((d) => inside(target, d) || inside(effective, d))) {
    throw new MkmError('DESTINATION_IN_DATA_FOLDER', undefined, { path });
  }
  return target;
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/**
 * The destination of one write, by who asked: the CLI names it; a page gets main's save dialog
 * (Electron), or is told to download instead (browser mode has no main-side dialog).
 */
export async function chooseDestination(
  sender: SenderInfo,
  request: { outPath?: string | undefined; overwrite?: boolean | undefined },
  options: {
    dataDir: string;
    dialogs?: FileDialogs | undefined;
    title: string;
    defaultName: string;
    purpose: DialogPurpose;
  },
): Promise<{ path: string; overwrite: boolean } | null> {
  if (sender.transport === 'cli') {
    if (!request.outPath) throw new MkmError('VALIDATION', 'Name the file to write.', { field: 'outPath' });
    const overwrite = request.overwrite ?? false;
    return {
      path: checkDestination(request.outPath, { dataDir: options.dataDir, overwrite }),
      overwrite,
    };
  }
  if (request.outPath !== undefined || request.overwrite !== undefined)
    throw new MkmError('PATH_NOT_ALLOWED');
  if (!options.dialogs) throw new MkmError('PICKER_UNAVAILABLE');
  const picked = await options.dialogs.save({
    title: options.title,
    defaultName: options.defaultName,
    purpose: options.purpose,
  });
  if (!picked) return null;
  // The dialog asked before replacing an existing file.
  return { path: checkDestination(picked, { dataDir: options.dataDir, overwrite: true }), overwrite: true };
}

/**
 * Files a page chose without seeing their path: picked in main's dialog, uploaded, or made by
 * main for a download. A page holds only an opaque, single-use id. Uploads stay in memory (a
 * batch input holds card numbers: no copy of it lands on disk); outputs waiting for download
 * are written in a private folder (0700) and removed once fetched or at close.
 */
export interface HeldFile {
  id: string;
  name: string;
  bytes: number;
  /** On disk (a picked input, an output for download), or null for an upload... */
  path: string | null;
  /** ...whose bytes are here instead. */
  data: Buffer | null;
}

export const UPLOAD_MAX_BYTES = 1_000_000;
const MAX_HELD = 32;

export class FileHandles {
  private readonly held = new Map<string, HeldFile & { kind: 'input' | 'download' }>();
  private dir: string | null = null;

  private privateDir(): string {
    return (this.dir ??= mkdtempSync(join(tmpdir(), 'mkm-files-')));
  }

  /** An input main's open dialog picked (its path never goes to the page). */
  holdPicked(path: string): HeldFile {
    return this.hold('input', { name: basename(path), path, data: null, bytes: statSync(path).size });
  }

  /** An upload from a page: bounded, kept in memory. */
  holdUpload(name: string, content: Buffer): HeldFile {
    if (content.length > UPLOAD_MAX_BYTES) {
      throw new MkmError('UPLOAD_TOO_LARGE', undefined, { bytes: content.length, max: UPLOAD_MAX_BYTES });
    }
    return this.hold('input', { name: safeName(name), path: null, data: content, bytes: content.length });
  }

  /** A fresh path in the private folder where main writes an output a page will download. */
  downloadTarget(name: string): { id: string; path: string; name: string } {
    const id = randomUUID();
    return { id, path: join(this.privateDir(), `${id}-out.csv`), name: safeName(name) };
  }

  /** Once main wrote the download target, the page may fetch it once by its id. */
  holdDownload(target: { id: string; path: string; name: string }): HeldFile {
    const entry = {
      id: target.id,
      name: target.name,
      path: target.path,
      data: null,
      bytes: statSync(target.path).size,
    };
    this.remember({ ...entry, kind: 'download' });
    return entry;
  }

  private hold(kind: 'input' | 'download', file: Omit<HeldFile, 'id'>): HeldFile {
    const entry = { id: randomUUID(), ...file };
    this.remember({ ...entry, kind });
    return entry;
  }

  private remember(entry: HeldFile & { kind: 'input' | 'download' }): void {
    // A page that uploads and never uses its uploads does not grow main without bound.
    while (this.held.size >= MAX_HELD) this.drop(this.held.keys().next().value!);
    this.held.set(entry.id, entry);
  }

  private drop(id: string): void {
    const entry = this.held.get(id);
    this.held.delete(id);
    entry?.data?.fill(0);
    if (entry?.kind === 'download' && entry.path) rmSync(entry.path, { force: true });
  }

  /** Takes a held file of that kind: each id works once. */
  take(id: string, kind: 'input' | 'download'): HeldFile {
    const entry = this.held.get(id);
    if (!entry || entry.kind !== kind) throw new MkmError('FILE_HANDLE_UNKNOWN');
    this.held.delete(id);
    return entry;
  }

  close(): void {
    for (const id of [...this.held.keys()]) this.drop(id);
    if (this.dir && existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

/** A suggested file name: no folders, no control characters, a sane length. */
export function safeName(name: string): string {
  const cleaned = [...basename(name.replace(/\\/g, '/'))]
    .filter((c) => c.charCodeAt(0) > 0x1f && c.charCodeAt(0) !== 0x7f)
    .join('')
    .slice(0, 120);
  return cleaned && cleaned !== '.' && cleaned !== '..' ? cleaned : 'file';
}
