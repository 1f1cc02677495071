import { Option } from 'commander';
import { writeFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { CustodianText, CustodianView, PciReport } from '../../shared/contract/report.std';
import { MkmError } from '../../shared/errors.std';
import { writeFileAtomic } from '../core/atomic-file.nodejs';
import { STATUS_LABELS } from '../report/report.std';
import { refuseInDataFolder } from '../core/destination.nodejs';
import { loggedInSlot, type CliContext, type CommandInstaller, type CommandModule } from './context.cli';
import { usage } from './output.cli';

/**
 * `mkm report pci`, `mkm report custodians`, `mkm report acknowledge`, `mkm report revoke`.
 * With MKM_PIN set, `report pci` logs in first, so the token's key attributes and the audit
 * seals are part of the evidence; without it the report says they were not checked.
 */

export function formatOf(out: string, format: string | undefined): 'html' | 'pdf' {
  if (format === 'html' || format === 'pdf') return format;
  if (format !== undefined) throw usage('--format must be html or pdf.');
  const ext = extname(out).toLowerCase();
  if (ext === '.html' || ext === '.htm') return 'html';
  if (ext === '.pdf') return 'pdf';
  throw usage(`Cannot tell the format from “${out}”: name it .html or .pdf, or add --format html|pdf.`);
}

function writeReport(out: string, data: Buffer, force: boolean): void {
  if (force) {
    writeFileAtomic(out, data, 0o600);
    return;
  }
  try {
    // wx: refuse in the same step as the write, so a file that appears meanwhile is not replaced.
    writeFileSync(out, data, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new MkmError('CONFLICT', `${out} already exists; add --force to replace it.`, { out });
    throw new MkmError('IO_ERROR', `${out} could not be written (${(error as Error).message}).`, { out });
  }
}

function reportText(r: PciReport): string {
  return [
    `${r.title}`,
    `generated ${r.generatedAt}, installation ${r.installation.id}`,
    (['met', 'attention', 'manual', 'n/a'] as const)
      .map((s) => `${STATUS_LABELS[s]}: ${r.summary[s]}`)
      .join(', '),
    '',
    ...r.requirements.map((q) => `${q.id.padEnd(8)} ${q.status.padEnd(9)} ${q.why[0] ?? ''}`),
  ].join('\n');
}

function custodianLine(c: CustodianView): string {
  const status = c.revokedAt ? `revoked ${c.revokedAt.slice(0, 10)}` : c.current ? 'current' : 'older text';
  return `${c.id}  ${c.name} (${c.role})  text v${c.textVersion}  acknowledged ${c.acknowledgedAt.slice(0, 10)}  ${status}`;
}

function textOf(t: CustodianText): string {
  return [`${t.title} (version ${t.version})`, '', ...t.paragraphs.map((p, i) => `${i + 1}. ${p}`)].join(
    '\n',
  );
}

/** Logs in when MKM_PIN is set; says whether the token can be checked (a new process is logged out). */
async function loginIfPin(ctx: CliContext): Promise<{ skipToken: boolean }> {
  if (!process.env.MKM_PIN) return { skipToken: true };
  await loggedInSlot(ctx);
  await (await ctx.app()).audit.ready();
  return { skipToken: false };
}

const install: CommandInstaller = (report, context) => {
  report
    .command('pci')
    .description('the PCI DSS v4 3.6/3.7 report: evidence and status per requirement (HTML or PDF)')
    .option('--out <file>', 'write the report to this file (.html or .pdf)')
    .addOption(
      new Option('--format <format>', 'html or pdf (default: from the file name)').choices(['html', 'pdf']),
    )
    .option('--force', 'replace the file if it exists', false)
    .action(async (opts: { out?: string; format?: string; force: boolean }) => {
      const ctx = context();
      if (!opts.out) {
        if (opts.format) throw usage('--format needs --out FILE.');
        const r = await ctx.call('report.pci', await loginIfPin(ctx));
        ctx.out.result(r, () => reportText(r));
        return;
      }
      const format = formatOf(opts.out, opts.format);
      const exported = await ctx.call('report.exportPci', { format, ...(await loginIfPin(ctx)) });
      const data = Buffer.from(exported.content, exported.encoding === 'base64' ? 'base64' : 'utf8');
      writeReport(refuseInDataFolder(resolve(opts.out), (await ctx.app()).paths.root), data, opts.force);
      const { summary } = exported;
      ctx.out.result(
        { out: opts.out, format, bytes: data.length, summary },
        () =>
          `wrote ${opts.out} (${format}, ${data.length} bytes): ${(
            ['met', 'attention', 'manual', 'n/a'] as const
          )
            .map((s) => `${s} ${summary[s]}`)
            .join(', ')}`,
      );
    });

  report
    .command('custodians')
    .description('list the key custodians and their acknowledgements')
    .option('--text', 'print the responsibilities text custodians acknowledge', false)
    .action(async (opts: { text: boolean }) => {
      const ctx = context();
      const r = await ctx.call('report.custodians');
      ctx.out.result(r, () =>
        [
          ...(opts.text ? [textOf(r.text), ''] : []),
          `responsibilities text in force: version ${r.text.version}`,
          ...(r.custodians.length
            ? r.custodians.map(custodianLine)
            : ['no key custodian has acknowledged yet']),
        ].join('\n'),
      );
    });

  report
    .command('acknowledge')
    .description('record that a key custodian read and accepts the responsibilities text (PCI DSS 3.7.8)')
    .requiredOption('--name <name>', "the custodian's full name")
    .requiredOption('--role <role>', "the custodian's role")
    .option('--yes', 'the custodian has read the text (see: mkm report custodians --text) and accepts it')
    .action(async (opts: { name: string; role: string; yes?: boolean }) => {
      const ctx = context();
      const { text } = await ctx.call('report.custodians');
      if (!opts.yes) {
        throw new MkmError(
          'CONFIRMATION_REQUIRED',
          `Have ${opts.name} read the responsibilities (mkm report custodians --text), then run this again with --yes.`,
        );
      }
      const c = await ctx.call('report.acknowledge', {
        name: opts.name,
        role: opts.role,
        textVersion: text.version,
        confirm: true,
      });
      ctx.out.result(c, () => `recorded: ${custodianLine(c)}`);
    });

  report
    .command('revoke')
    .description('a key custodian left the role: revoke their acknowledgement (it stays on record)')
    .argument('<id>', 'the custodian record id (see mkm report custodians)')
    .option('--reason <text>', 'why, e.g. "left the company"')
    .option('--yes', 'confirm')
    .action(async (id: string, opts: { reason?: string; yes?: boolean }) => {
      const ctx = context();
      if (!opts.yes) throw new MkmError('CONFIRMATION_REQUIRED', 'Add --yes to revoke the custodian.');
      const c = await ctx.call('report.revokeCustodian', {
        id: id.trim().toLowerCase(),
        confirm: true,
        ...(opts.reason ? { reason: opts.reason } : {}),
      });
      ctx.out.result(c, () => `revoked: ${custodianLine(c)}`);
    });
};

export const commands: CommandModule['commands'] = { report: install };
