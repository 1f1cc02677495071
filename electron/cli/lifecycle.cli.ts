import { Option } from 'commander';
import type { LifecycleKeyView, LifecycleVersionView } from '../../shared/contract.std';
import type { LifecycleDueReport } from '../../shared/contract/lifecycle.std';
import {
  KEY_STATES,
  MANAGED_KEY_TYPES,
  TOKEN_PURPOSES,
  type KeyState,
} from '../../shared/lifecycle/vocabulary.std';
import { MkmError } from '../../shared/errors.std';
import { loggedInSlot, type CliContext, type CommandModule } from './context.cli';
import { formatKcv, managedTypeText, versionName } from '../../shared/wording.std';

/**
 * Managed keys (the key lifecycle): `mkm lifecycle list`, `mkm keys list --state S` (delegates
 * here), `mkm keys create`, `mkm rotate`, `mkm keys compromise`, `mkm keys destroy-version`,
 * `mkm keys deactivate`, `mkm keys due` (also `mkm lifecycle due`). The key
 * inventory is opened by the first lifecycle call only, so other commands never take its lock.
 */

const day = (iso: string | null) => (iso ? iso.slice(0, 10) : '-');

function fingerprintText(v: LifecycleVersionView): string {
  if (!v.fingerprint) return v.fingerprintNote ?? '';
  return v.fingerprint.kind === 'kcv'
    ? `KCV ${formatKcv(v.fingerprint.value)} (${v.fingerprint.method})`
    : `spki-sha256 ${v.fingerprint.value.slice(0, 16)}…`;
}

export function versionLine(v: LifecycleVersionView): string {
  return [
    `  v${v.version}`.padEnd(6),
    v.state.padEnd(14),
    (v.primary ? 'primary' : '').padEnd(7),
    v.id,
    fingerprintText(v),
    `uses ${v.useCount}`,
    v.expiresAt ? `expires ${day(v.expiresAt)}` : '',
    v.graceUntil ? `grace until ${day(v.graceUntil)}` : '',
    v.compromisedAt ? `compromised ${day(v.compromisedAt)}` : '',
    v.missingSince ? `MISSING since ${day(v.missingSince)}` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

export function keyText(k: LifecycleKeyView): string {
  return [
    `${k.name}  (${k.purpose}, ${managedTypeText(k.type)})  ${k.id}${k.rotating ? '  rotation in progress' : ''}`,
    ...k.versions.map(versionLine),
  ].join('\n');
}

function parseState(state: string): KeyState {
  if (!(KEY_STATES as readonly string[]).includes(state)) {
    throw new MkmError('USAGE', `--state must be one of ${KEY_STATES.join(', ')}.`);
  }
  return state as KeyState;
}

/** `mkm lifecycle list` and `mkm keys list --state S`: the managed keys, no token login needed. */
export async function listManagedKeys(ctx: CliContext, state?: string): Promise<void> {
  const keys = await ctx.call('lifecycle.list', state === undefined ? {} : { state: parseState(state) });
  ctx.out.result(keys, () =>
    keys.length
      ? keys.map(keyText).join('\n')
      : state
        ? `no managed key has a version in state ${state}`
        : 'no managed keys',
  );
}

/**
 * A version by its name (`NAME vN`), id, label or CKA_ID; a logical key name is refused with its
 * versions. Comes with its key's name, for what a person reads.
 */
async function resolveVersion(
  ctx: CliContext,
  ref: string,
): Promise<LifecycleVersionView & { keyName: string }> {
  const keys = await ctx.call('lifecycle.list', {});
  const versions = keys.flatMap((k) => k.versions.map((v) => ({ ...v, keyName: k.name })));
  const wanted = ref.trim();
  const byId = versions.filter((v) => v.id === wanted.toLowerCase());
  const byName = versions.filter((v) => versionName(v.keyName, v.version) === wanted);
  const matches = byId.length
    ? byId
    : byName.length
      ? byName
      : versions.filter((v) => v.label === wanted || (v.ckaId !== null && v.ckaId === wanted.toLowerCase()));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new MkmError(
      'CONFLICT',
      `"${wanted}" names ${matches.length} key versions; use a version id: ${matches.map((v) => v.id).join(', ')}.`,
    );
  }
  const key = keys.find((k) => k.id === wanted.toLowerCase() || k.name === wanted);
  if (key) {
    throw new MkmError(
      'USAGE',
      `"${wanted}" is a logical key; name one of its versions: ${key.versions
        .map((v) => `"${versionName(key.name, v.version)}" (${v.state})`)
        .join(', ')}.`,
    );
  }
  throw new MkmError('NOT_FOUND', `No managed key version with the id or label "${wanted}".`);
}

function dueText(report: LifecycleDueReport): string {
  const lines = report.due.map((d) => {
    const why = d.reasons
      .map((r) =>
        r.kind === 'age'
          ? `crypto-period ends ${day(r.expiresAt)} (${r.daysLeft} days)`
          : r.kind === 'uses'
            ? `${r.uses} of ${r.maxUses} uses`
            : r.kind === 'compromised'
              ? `version ${r.versionId} is compromised`
              : 'no primary version',
      )
      .join('; ');
    return `${d.level.padEnd(8)} ${d.name} (${d.purpose})  ${d.logicalKeyId}  ${why}${d.rotatable ? '' : '  (import its next version)'}`;
  });
  for (const g of report.graceExpired) {
    lines.push(`grace    version ${g.versionId} of ${g.logicalKeyId}: grace ended ${day(g.graceUntil)}`);
  }
  for (const r of report.rotationsInFlight) {
    lines.push(
      `rotating ${r.name}  ${r.logicalKeyId}: rotation in flight (step ${r.step}, since ${day(r.startedAt)})`,
    );
  }
  return lines.length ? lines.join('\n') : 'nothing is due';
}

/** `mkm lifecycle due` and `mkm keys due`; no token login needed. */
async function showDue(ctx: CliContext): Promise<void> {
  const report = await ctx.call('lifecycle.due');
  ctx.out.result(report, () => dueText(report));
}

export const commands: CommandModule['commands'] = {
  lifecycle: (lifecycle, context) => {
    lifecycle
      .command('list')
      .description('list the managed keys with their versions (never key material)')
      .option('--state <state>', `only versions in this state (${KEY_STATES.join(', ')})`)
      .action(async (opts: { state?: string }) => listManagedKeys(context(), opts.state));
    lifecycle
      .command('due')
      .description('which managed keys need rotating, and why (as mkm keys due)')
      .action(async () => showDue(context()));
  },

  rotate: (rotate, context) =>
    rotate.action(async (ref: string) => {
      const ctx = context();
      await loggedInSlot(ctx);
      const { logicalKey, version } = await ctx.call('lifecycle.rotate', { ref });
      ctx.out.result(
        { logicalKey, version },
        () => `rotated "${logicalKey.name}" to v${version.version}\n${keyText(logicalKey)}`,
      );
    }),

  keys: (keys, context) => {
    keys
      .command('create')
      .description('create a managed key: version 1 generated on the token, rotated by policy')
      .requiredOption('--name <name>', 'the logical key name')
      .addOption(
        new Option('--purpose <purpose>', 'what the key is for')
          .choices([...TOKEN_PURPOSES])
          .makeOptionMandatory(),
      )
      .addOption(
        new Option('--type <type>', 'key type (default: by purpose)').choices([...MANAGED_KEY_TYPES]),
      )
      .option(
        '--accept-wider-usage',
        'keep the wider key usage the token insists on (recorded in the audit log); refused otherwise',
      )
      .action(
        async (opts: {
          name: string;
          purpose: (typeof TOKEN_PURPOSES)[number];
          type?: (typeof MANAGED_KEY_TYPES)[number];
          acceptWiderUsage?: boolean;
        }) => {
          const ctx = context();
          const slot = await loggedInSlot(ctx);
          const { logicalKey, version } = await ctx.call('lifecycle.create', {
            name: opts.name,
            purpose: opts.purpose,
            slotId: slot.slotId,
            ...(opts.type ? { type: opts.type } : {}),
            ...(opts.acceptWiderUsage ? { acceptWiderUsage: true } : {}),
          });
          ctx.out.result(
            { logicalKey, version },
            () => `created "${logicalKey.name}"\n${keyText(logicalKey)}`,
          );
        },
      );

    keys
      .command('compromise <ref>')
      .description('declare a managed key version (by version id, label or CKA_ID) compromised')
      .option('--note <note>', 'why (kept in the audit log)')
      .action(async (ref: string, opts: { note?: string }) => {
        const ctx = context();
        const version = await resolveVersion(ctx, ref);
        // A compromised primary is replaced at once: that needs the token.
        await loggedInSlot(ctx);
        const result = await ctx.call('lifecycle.compromise', {
          versionId: version.id,
          ...(opts.note !== undefined ? { note: opts.note } : {}),
        });
        ctx.out.result(result, () =>
          [
            `version v${result.compromised.version} ${result.compromised.id} is ${result.compromised.state}`,
            result.replacement
              ? `replaced by v${result.replacement.version} ${result.replacement.id} (primary)`
              : '',
          ]
            .filter(Boolean)
            .join('\n'),
        );
      });

    keys
      .command('destroy-version <ref>')
      .description(
        'destroy a managed key version (by version id, label or CKA_ID) on the token; the record stays as a tombstone',
      )
      .option('--yes', 'confirm the destruction')
      .option('--confirm-label <name>', 'the version\'s name ("NAME vN"), typed again')
      .action(async (ref: string, opts: { yes?: boolean; confirmLabel?: string }) => {
        const ctx = context();
        const version = await resolveVersion(ctx, ref);
        if (!opts.yes || opts.confirmLabel === undefined) {
          throw new MkmError(
            'CONFIRMATION_REQUIRED',
            `Destroying a key cannot be undone: add --yes and --confirm-label "${versionName(version.keyName, version.version)}".`,
            { versionId: version.id },
          );
        }
        await loggedInSlot(ctx);
        const destroyed = await ctx.call('lifecycle.destroy', {
          versionId: version.id,
          confirm: true,
          confirmLabel: opts.confirmLabel,
        });
        ctx.out.result(
          destroyed,
          () =>
            `${versionName(version.keyName, destroyed.version)} was destroyed on the token (id ${destroyed.id}); its record stays as a tombstone`,
        );
      });

    keys
      .command('deactivate <ref>')
      .description('end the use of a replaced managed key version for new work (it still decrypts)')
      .action(async (ref: string) => {
        const ctx = context();
        const version = await resolveVersion(ctx, ref);
        const result = await ctx.call('lifecycle.deactivate', { versionId: version.id });
        ctx.out.result(result, () => `version v${result.version} ${result.id} is ${result.state}`);
      });

    keys
      .command('due')
      .description('which managed keys need rotating, and why')
      .action(async () => showDue(context()));
  },
};
