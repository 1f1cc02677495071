import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { SupportBundlePreview, SupportBundleWritten } from '../../shared/contract/troubleshoot.std';
import { MkmError } from '../../shared/errors.std';
import { chooseDestination, type FileDialogs } from '../core/destination.nodejs';
import type { Logger } from '../core/logger.nodejs';
import type { SenderInfo } from '../core/registry.nodejs';
import { collectBundle, renderBundle, type BundleSources } from './bundle.nodejs';

/** A preview this recent is what `write` writes, so the file is the one the user looked at. */
const PREVIEW_FRESH_MS = 10 * 60_000;

export interface SupportDeps {
  /** What the bundle reads. */
  sources: BundleSources;
  logger: Logger;
  /** The app's data folder (a CLI path is judged against it). */
  dataDir: string;
  /** Electron's main-side file dialogs; absent in browser mode and the CLI. */
  dialogs?: FileDialogs | undefined;
}

/** The support bundle: previewed, then written where its caller chose. */
export class SupportService {
  private last: { at: number; preview: SupportBundlePreview } | null = null;

  constructor(private readonly deps: SupportDeps) {}

  async preview(): Promise<SupportBundlePreview> {
    const made = renderBundle(await collectBundle(this.deps.sources));
    this.last = { at: Date.now(), preview: made };
    return made;
  }

  async write(
    { outPath, overwrite }: { outPath?: string | undefined; overwrite?: boolean | undefined },
    sender: SenderInfo,
  ): Promise<SupportBundleWritten> {
    // The CLI names the file; a page gets main's save dialog (browser mode downloads instead).
    const destination = await chooseDestination(
      sender,
      { outPath, overwrite },
      {
        dataDir: this.deps.dataDir,
        dialogs: this.deps.dialogs,
        title: 'Save the support bundle',
        defaultName: `mkm-support-${new Date().toISOString().slice(0, 10)}.json`,
        purpose: 'support-bundle',
      },
    );
    if (!destination) throw new MkmError('CANCELLED', 'No file was chosen.');
    outPath = destination.path;
    const last = this.last;
    const bundle = last && Date.now() - last.at < PREVIEW_FRESH_MS ? last.preview : await this.preview();
    let fd: number;
    try {
      // 'wx': an existing file is never replaced unless replacing it was confirmed.
      fd = openSync(outPath, destination.overwrite ? 'w' : 'wx', 0o600);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'EEXIST') throw new MkmError('DESTINATION_EXISTS', undefined, { outPath });
      throw new MkmError('IO_ERROR', 'The support bundle could not be written there.', {
        outPath,
        reason: code ?? 'unknown',
      });
    }
    try {
      const buf = Buffer.from(bundle.content, 'utf8');
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.deps.logger.info('support bundle written', { outPath, bytes: bundle.bytes });
    return { outPath, bytes: bundle.bytes, sha256: bundle.sha256 };
  }
}
