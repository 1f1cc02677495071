import type { LifecycleSystemUsageView, LifecycleUsageView } from '../../shared/contract/lifecycle.std';
import type { CommandModule } from './context.cli';
import { usage } from './output.cli';

/**
 * `mkm keys usage KEY [--since DATE] [--json]`: how each version of a managed key was used, per
 * day and per operation, its last use and where it stands against its use limit. It reads the
 * counts as last written, so it answers while the app runs (up to one flush interval behind it).
 */

const LEVEL_TEXT = { ok: '', warning: '  NEAR LIMIT', reached: '  LIMIT REACHED: rotate' } as const;

export function usageText(r: LifecycleUsageView): string {
  const limit =
    r.maxUses === null
      ? 'no use limit'
      : `limit ${r.maxUses} uses, warning at ${Math.round(r.warnUsesFraction * 100)} %`;
  const lines = [`"${r.name}" (${r.purpose}) ${r.logicalKeyId}: ${limit}`];
  const most = Math.max(1, ...r.versions.flatMap((v) => v.days.map((d) => d.uses)));
  for (const v of r.versions) {
    const ops = Object.entries(v.operations)
      .map(([op, n]) => `${op} ${n}`)
      .join(', ');
    lines.push(
      `v${v.version}${v.primary ? ' primary' : ''} ${v.state}: ${v.uses} uses${LEVEL_TEXT[v.level]}` +
        (v.lastAt ? `; last ${v.lastAt} (${v.lastOperation})` : '; never used') +
        (ops ? `; ${ops}` : ''),
    );
    for (const d of v.days) {
      lines.push(`  ${d.day} ${'#'.repeat(Math.max(1, Math.round((d.uses / most) * 40)))} ${d.uses}`);
    }
  }
  return lines.join('\n');
}

export function systemUsageText(r: LifecycleSystemUsageView): string {
  const line = (
    name: string,
    u: LifecycleSystemUsageView['auditKeys'][number] | LifecycleSystemUsageView['gatewayKeys'][number],
  ) =>
    `${name}: ${u.uses} uses` +
    (u.lastAt ? `; last ${u.lastAt} (${u.lastOperation})` : '') +
    Object.entries(u.operations)
      .map(([op, n]) => `; ${op} ${n}`)
      .join('');
  return [
    r.auditKeys.length ? 'Audit keys (seals):' : 'Audit keys (seals): none counted',
    ...r.auditKeys.map((k) => line(`  ${k.id} (KCV ${k.kcv})`, k)),
    r.gatewayKeys.length
      ? 'Pinned gateway keys (client-side encryption):'
      : 'Pinned gateway keys: none counted',
    ...r.gatewayKeys.map((k) => line(`  ${k.fingerprint}`, k)),
  ].join('\n');
}

export const commands: CommandModule['commands'] = {
  keys: (keys, context) => {
    keys
      .command('usage <key>')
      .description(
        'how each version of a managed key (id or name) was used: per day, per operation, last use',
      )
      .option('--since <date>', 'only days from this date (YYYY-MM-DD)')
      .action(async (ref: string, opts: { since?: string }) => {
        if (opts.since !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(opts.since))
          throw usage('--since takes a date as YYYY-MM-DD.');
        const ctx = context();
        const report = await ctx.call('lifecycle.usage', {
          ref,
          ...(opts.since !== undefined ? { since: opts.since } : {}),
        });
        ctx.out.result(report, () => usageText(report));
      });
    keys
      .command('system-usage')
      .description(
        "how mkm's own keys were used: the audit keys' seals, the pinned gateway keys' encryptions",
      )
      .action(async () => {
        const ctx = context();
        const report = await ctx.call('lifecycle.systemUsage');
        ctx.out.result(report, () => systemUsageText(report));
      });
  },
};
