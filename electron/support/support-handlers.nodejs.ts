import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { Contract } from '../../shared/contract.std';
import type { SupportBundlePreview } from '../../shared/contract/troubleshoot.std';
import { MkmError } from '../../shared/errors.std';
import { chooseDestination } from '../core/destination.nodejs';
import type { Handlers } from '../core/registry.nodejs';
import type { AppServices } from '../core/services.nodejs';
import { collectBundle, renderBundle } from './bundle.nodejs';

/** A preview this recent is what `write` writes, so the file is the one the user looked at. */
const PREVIEW_FRESH_MS = 10 * 60_000;

/** The `support.*` channels. */
export function supportHandlers(services: AppServices): Handlers<Contract>['support'] {
  let last: { at: number; preview: SupportBundlePreview } | null = null;

  const preview = async () => {
    const made = renderBundle(await collectBundle(services));
    last = { at: Date.now(), preview: made };
    return made;
  };

  return {
    preview,
    write: async ({ outPath, overwrite }, ctx) => {
      // The CLI names the file; a page gets main's save dialog (browser mode downloads instead).
      const destination = await chooseDestination(
        ctx.sender,
        { outPath, overwrite },
        {
          dataDir: services.paths.root,
          dialogs: services.dialogs,
          title: 'Save the support bundle',
          defaultName: `mkm-support-${new Date().toISOString().slice(0, 10)}.json`,
          purpose: 'support-bundle',
        },
      );
      if (!destination) throw new MkmError('CANCELLED', 'No file was chosen.');
      outPath = destination.path;
      const bundle = last && Date.now() - last.at < PREVIEW_FRESH_MS ? last.preview : await preview();
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
      services.logger.info('support bundle written', { outPath, bytes: bundle.bytes });
      return { outPath, bytes: bundle.bytes, sha256: bundle.sha256 };
    },
  };
}
