import { resolve } from 'node:path';
import type { CommandInstaller, CommandModule } from './context.cli';

/**
 * `mkm support bundle --out FILE [--preview] [--force]`: the redacted diagnostics file.
 * --preview prints exactly what would be written and writes nothing.
 */
const install: CommandInstaller = (support, context) => {
  support
    .command('bundle')
    .description('write one redacted diagnostics file (no PAN, CVV, PIN, password or key material)')
    .requiredOption('--out <file>', 'where to write the bundle (JSON)')
    .option('--preview', 'print the bundle instead of writing it')
    .option('--force', 'replace the file if it exists')
    .action(async (opts: { out: string; preview?: boolean; force?: boolean }) => {
      const ctx = context();
      if (opts.preview) {
        const preview = await ctx.call('support.preview');
        if (ctx.out.json) ctx.out.result(preview, () => preview.content);
        else process.stdout.write(preview.content);
        return;
      }
      const written = await ctx.call('support.write', {
        outPath: resolve(opts.out),
        ...(opts.force ? { overwrite: true } : {}),
      });
      ctx.out.result(
        written,
        () => `wrote ${written.outPath} (${written.bytes} bytes, sha256 ${written.sha256})`,
      );
    });
};

export const commands: CommandModule['commands'] = { support: install };
