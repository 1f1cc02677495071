import { Option } from 'commander';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import { checkDestination } from '../core/destination.main';
import { addCommands } from './context.cli';
import { loggedInSlot } from './tokens.cli';

/**
 * `mkm audit verify` and `mkm audit export`. With MKM_PIN set, verify logs in first so the
 * token's audit key checks the seals; without it the chain is checked and the seals are not.
 */
addCommands((program, context) => {
  const audit = program.command('audit').description('the tamper-evident audit log');

  audit
    .command('verify')
    .description('check every entry: chain, seals, truncation; names the first bad entry')
    .action(async () => {
      const ctx = context();
      if (process.env.MKM_PIN) {
        await loggedInSlot(ctx);
        await ctx.app().audit.ready();
      }
      const report = await ctx.call('audit.verify');
      ctx.out.result(report, () =>
        [
          report.ok ? 'audit log OK' : `audit log TAMPERED: ${report.firstBad?.reason ?? 'see details'}`,
          report.firstBad
            ? `first bad entry: seq ${report.firstBad.seq ?? '?'} at line ${report.firstBad.line}`
            : '',
          `${report.entries} entries, ${report.seals} seals${report.sealsVerified ? ' (MACs checked on the token)' : ' (MACs not checked: set MKM_PIN to log in)'}`,
          `sealed through seq ${report.sealedThrough}; ${report.unsealed} entries not sealed yet`,
        ]
          .filter(Boolean)
          .join('\n'),
      );
      if (!report.ok) process.exitCode = 1;
    });

  audit
    .command('export')
    .description('export the audit log as JSON or CSV')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv']).default('json'))
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--force', 'replace the file if it exists')
    .action(async (opts: { format: 'json' | 'csv'; out?: string; force?: boolean }) => {
      const ctx = context();
      const { content } = await ctx.call('audit.export', { format: opts.format });
      if (opts.out) {
        // Out of the data folder, and never over a file unless --force says so.
        const out = checkDestination(resolve(opts.out), {
          dataDir: ctx.app().paths.root,
          overwrite: opts.force ?? false,
        });
        try {
          writeFileSync(out, content, { mode: 0o600, flag: opts.force ? 'w' : 'wx' });
        } catch (error) {
          if ((error as { code?: string }).code === 'EEXIST')
            throw new MkmError('DESTINATION_EXISTS', undefined, { out });
          throw error;
        }
        ctx.out.result({ out: opts.out, bytes: Buffer.byteLength(content) }, () => `wrote ${opts.out}`);
      } else {
        process.stdout.write(content);
      }
    });
});
