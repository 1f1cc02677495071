import { resolve } from 'node:path';
import type { CommandInstaller, CommandModule } from './context.cli';
import { usage } from './output.cli';

/**
 * `mkm support bundle --out FILE [--force]`: the redacted diagnostics file.
 * `mkm support bundle --preview` prints exactly what would be written and writes nothing, so it
 * needs no --out (an --out given with it is ignored: nothing is written).
 */
const install: CommandInstaller = (support, context) => {
  support
    .command('bundle')
    .description('write one redacted diagnostics file (no PAN, CVV, PIN, password or key material)')
    .option('--out <file>', 'where to write the bundle (JSON); not with --preview')
    .option('--preview', 'print the bundle instead of writing it')
    .option('--force', 'replace the file if it exists')
    .action(async (opts: { out?: string; preview?: boolean; force?: boolean }) => {
      const ctx = context();
      if (opts.preview) {
        const preview = await ctx.call('support.preview');
        if (ctx.out.json) ctx.out.result(preview, () => preview.content);
        else process.stdout.write(preview.content);
        return;
      }
      if (!opts.out)
        throw usage('Say where to write the bundle with --out FILE, or print it with --preview.');
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
