import { Option } from 'commander';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import { checkDestination } from '../core/destination.nodejs';
import { loggedInSlot, needsNoLogin, type CommandInstaller, type CommandModule } from './context.cli';
import { formatKcv } from '../../shared/wording.std';

/**
 * `mkm audit verify`, `mkm audit export` and `mkm audit recover`. With MKM_PIN set, verify logs
 * in first so the token's audit keys check the seals and the token's head is compared with the
 * log; without it the chain is checked and the seals are not, which the exit code says.
 */
export const VERIFY_EXIT = { OK: 0, TAMPERED: 1, SEALS_NOT_CHECKED: 3 } as const;
const install: CommandInstaller = (audit, context) => {
  audit
    .command('verify')
    .description('check every entry: chain, seals, truncation, the token head; names the first bad entry')
    .addHelpText(
      'after',
      `
Exit status:
  ${VERIFY_EXIT.OK}  the log verifies, seals checked on the token
  ${VERIFY_EXIT.TAMPERED}  the log was changed, cut, rolled back or replaced (the first bad entry is named)
  ${VERIFY_EXIT.SEALS_NOT_CHECKED}  the chain verifies but the seals were NOT checked (no MKM_PIN, or an audit key
     is not on this token), or the token cannot seal at all (NOT SEALED says why): set MKM_PIN to
     check them with the token`,
    )
    .action(async () => {
      const ctx = context();
      // A token that needs no login checks the seals without MKM_PIN.
      if (process.env.MKM_PIN || (await needsNoLogin(ctx))) {
        await loggedInSlot(ctx);
        await (await ctx.app()).audit.ready();
      }
      const report = await ctx.call('audit.verify');
      ctx.out.result(report, () =>
        [
          report.ok ? 'audit log OK' : `audit log TAMPERED: ${report.firstBad?.reason ?? 'see details'}`,
          report.firstBad
            ? `first bad entry: seq ${report.firstBad.seq ?? '?'} at line ${report.firstBad.line}`
            : '',
          `${report.entries} entries, ${report.seals} seals${report.sealsVerified ? ' (MACs checked on the token)' : ''}`,
          report.sealsVerified
            ? ''
            : report.sealError === 'AUDIT_KEY_NOT_ON_TOKEN'
              ? 'SEALS NOT CHECKED: some seals were made with an audit key that is not on this token'
              : 'SEALS NOT CHECKED: the chain was checked, the seals were not (set MKM_PIN to log in)',
          `sealed through seq ${report.sealedThrough}; ${report.unsealed} entries not sealed yet`,
          report.noSeal ? `NOT SEALED: ${report.noSeal}` : '',
          report.sealedWith ? `sealed with ${report.sealedWith}` : '',
        ]
          .filter(Boolean)
          .join('\n'),
      );
      if (!report.ok) process.exitCode = VERIFY_EXIT.TAMPERED;
      else if (!report.sealsVerified || report.noSeal) process.exitCode = VERIFY_EXIT.SEALS_NOT_CHECKED;
    });

  audit
    .command('replace-key')
    .description('make a new audit key on the token; the old one stays to verify the seals it made')
    .option('--yes', 'confirm')
    .action(async (opts: { yes?: boolean }) => {
      if (!opts.yes) throw new MkmError('CONFIRMATION_REQUIRED', 'Add --yes to make a new audit key.');
      const ctx = context();
      await loggedInSlot(ctx);
      await (await ctx.app()).audit.ready();
      const r = await ctx.call('audit.replaceKey', { confirm: true });
      ctx.out.result(
        r,
        () =>
          `new audit key ${r.key.id} (KCV ${formatKcv(r.key.kcv)}); ${r.replaced.id} (KCV ${formatKcv(r.replaced.kcv)}) stays to verify its seals`,
      );
    });

  audit
    .command('recover')
    .description(
      'move a damaged audit log aside untouched and start a new one that names it and its last entry',
    )
    .option('--yes', 'confirm')
    .action(async (opts: { yes?: boolean }) => {
      if (!opts.yes) {
        throw new MkmError(
          'CONFIRMATION_REQUIRED',
          'Run mkm audit verify first; add --yes to move the damaged log aside and start a new one.',
        );
      }
      const ctx = context();
      if (process.env.MKM_PIN) {
        await loggedInSlot(ctx);
        await (await ctx.app()).audit.ready();
      }
      const r = await ctx.call('audit.recover', { confirm: true });
      ctx.out.result(r, () =>
        [
          `moved the damaged log to ${r.movedTo} (untouched)`,
          `reason: ${r.reason}`,
          r.oldHead
            ? `its last entry: seq ${r.oldHead.seq}, SHA-256 ${r.oldHead.hash} (${r.oldHead.lines} lines)`
            : '',
          'a new log started; its first entries name the quarantine and that head',
        ]
          .filter(Boolean)
          .join('\n'),
      );
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
          dataDir: (await ctx.app()).paths.root,
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
};

export const commands: CommandModule['commands'] = { audit: install };
