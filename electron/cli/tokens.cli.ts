import { Option } from 'commander';
import type { ObjectInfo, SlotSummary } from '../../shared/tokens.std';
import { KeyTypeSchema, KeyPurposeSchema } from '../../shared/tokens.std';
import { MkmError } from '../../shared/errors.std';
import { loggedInSlot, resolveKey, resolveSlot, type CommandModule } from './context.cli';
import { formatKcv, keyTypeName, usageNames } from '../../shared/wording.std';

/**
 * Token and key commands: `mkm tokens`, `mkm login-test`, `mkm capabilities`, `mkm keys ...`.
 * The token is the one named by --slot or --token, else the only (or first) one present.
 */
function flagsOf(slot: SlotSummary): string {
  const f = slot.token!.flags;
  return [
    f.loginRequired && 'login required',
    f.protectedAuthenticationPath && 'PIN pad',
    f.userPinCountLow && 'PIN count low',
    f.userPinFinalTry && 'final PIN try',
    f.userPinLocked && 'PIN LOCKED',
    f.writeProtected && 'write-protected',
    slot.removable && 'removable',
  ]
    .filter(Boolean)
    .join(', ');
}

function objectLine(o: ObjectInfo): string {
  const attrs = [o.sensitive && 'sensitive', o.extractable === false && 'non-extractable']
    .filter(Boolean)
    .join(' ');
  return `${o.id.padEnd(34)} ${o.class.padEnd(7)} ${(o.keyType ? keyTypeName(o.keyType) : '-').padEnd(14)} ${String(o.bits ?? '-').padStart(5)}  ${o.label}  [${usageNames(o.usages, o.keyType).join(',')}] ${attrs}`;
}

export const commands: CommandModule['commands'] = {
  tokens: (command, context) =>
    command.action(async () => {
      const ctx = context();
      const [module, slots] = [await ctx.call('tokens.modules'), await ctx.call('tokens.list')];
      ctx.out.result({ module, slots }, () =>
        [
          `library  ${module.path ?? 'none'}${module.demo ? '  (DEMO token, SoftHSM2: user PIN 123456)' : ''}`,
          module.info
            ? `         ${module.info.manufacturer} ${module.info.libraryDescription} ${module.info.libraryVersion}, Cryptoki ${module.info.cryptokiVersion}`
            : '',
          ...slots.map((s) =>
            s.token && !s.token.flags.tokenInitialized
              ? `slot ${s.slotId}  (uninitialized token)`
              : s.token
                ? `slot ${s.slotId}  ${s.token.label.trim()}  serial ${s.token.serial.trim()}  ${s.token.manufacturer.trim()} ${s.token.model.trim()} fw ${s.token.firmware}  ${flagsOf(s)}`
                : `slot ${s.slotId}  (no token) ${s.description.trim()}`,
          ),
        ]
          .filter(Boolean)
          .join('\n'),
      );
    }),

  'login-test': (command, context) =>
    command.action(async () => {
      const ctx = context();
      const slot = await loggedInSlot(ctx);
      await ctx.call('tokens.logout', { slotId: slot.slotId });
      ctx.out.result(
        { ok: true, slotId: slot.slotId, label: slot.token!.label.trim() },
        () => `login ok on "${slot.token!.label.trim()}" (slot ${slot.slotId})`,
      );
    }),

  capabilities: (command, context) =>
    command
      .option('--refresh', 'probe again even when cached')
      .action(async (opts: { refresh?: boolean }) => {
        const ctx = context();
        const found = await resolveSlot(ctx);
        const slot =
          process.env.MKM_PIN || !found.token!.flags.loginRequired ? await loggedInSlot(ctx) : found;
        const caps = await ctx.call('tokens.capabilities', {
          slotId: slot.slotId,
          refresh: opts.refresh ?? false,
        });
        ctx.out.result(caps, () =>
          [
            `${caps.token.manufacturer} ${caps.token.model} fw ${caps.token.firmware}${caps.cached ? ' (cached)' : ''}`,
            ...Object.entries(caps.capabilities).map(
              ([name, c]) => `${c.supported ? 'yes' : 'no '}  ${name}${c.reason ? `  — ${c.reason}` : ''}`,
            ),
            `best OAEP unwrap: ${caps.bestOaepUnwrap ?? 'none'}`,
          ].join('\n'),
        );
      }),

  keys: (keys, context) => {
    keys
      .command('list')
      .description('list the objects on the token (with --state: the managed keys in that state)')
      .option('--state <state>', 'list managed keys with versions in this state (as mkm lifecycle list)')
      .action(async (opts: { state?: string }) => {
        const ctx = context();
        if (opts.state !== undefined) {
          await (await import('./lifecycle.cli')).listManagedKeys(ctx, opts.state);
          return;
        }
        const slot = await loggedInSlot(ctx);
        const objects = await ctx.call('keys.list', { slotId: slot.slotId });
        ctx.out.result(objects, () =>
          objects.length ? objects.map(objectLine).join('\n') : 'no objects on this token',
        );
      });

    keys
      .command('generate')
      .description('generate a key inside the token')
      .addOption(new Option('--type <type>', 'key type').choices(KeyTypeSchema.options).makeOptionMandatory())
      .requiredOption('--label <label>', 'the key label')
      .addOption(new Option('--purpose <purpose>', 'what the key is for').choices(KeyPurposeSchema.options))
      .option(
        '--exportable',
        'secret keys: allow export wrapped, only under a KEK the security officer marked trusted (never in clear)',
      )
      .option(
        '--accept-wider-usage',
        'accept the wider key usage a token insists on (e.g. sign and decrypt on one RSA key); recorded in the audit log',
      )
      .action(
        async (opts: {
          type: (typeof KeyTypeSchema.options)[number];
          label: string;
          purpose?: (typeof KeyPurposeSchema.options)[number];
          exportable?: boolean;
          acceptWiderUsage?: boolean;
        }) => {
          const ctx = context();
          const slot = await loggedInSlot(ctx);
          const purpose =
            opts.purpose ??
            (opts.type.startsWith('rsa') ? 'gateway-transport' : opts.type === 'hmac-256' ? 'hmac' : 'data');
          const key = await ctx.call('keys.generate', {
            slotId: slot.slotId,
            type: opts.type,
            label: opts.label,
            purpose,
            ...(opts.exportable ? { exportable: true } : {}),
            ...(opts.acceptWiderUsage ? { acceptWiderUsage: true } : {}),
          });
          ctx.out.result(
            key,
            () =>
              `generated ${key.type} "${key.label}" id ${key.id}${key.kcv ? `  KCV ${formatKcv(key.kcv.kcv)} (${key.kcv.method})` : ''}${key.spkiSha256 ? `  spki-sha256 ${key.spkiSha256}` : ''}${key.widerUsage?.length ? `\nwider usage accepted (recorded in the audit log): ${key.widerUsage.join(', ')}` : ''}`,
          );
        },
      );

    keys
      .command('show <ref>')
      .description('show a key (by id or label) with its attributes')
      .action(async (ref: string) => {
        const ctx = context();
        const slot = await loggedInSlot(ctx);
        const objects = await resolveKey(ctx, slot.slotId, ref);
        ctx.out.result(objects, () => objects.map(objectLine).join('\n'));
      });

    keys
      .command('export-public <ref>')
      .description('export a public key as PEM (SPKI) or JWK')
      .addOption(new Option('--format <format>', 'output format').choices(['pem', 'jwk']).default('pem'))
      .action(async (ref: string, opts: { format: 'pem' | 'jwk' }) => {
        const ctx = context();
        const slot = await loggedInSlot(ctx);
        const [key] = await resolveKey(ctx, slot.slotId, ref, ['public', 'private']);
        const exported = await ctx.call('keys.exportPublic', {
          slotId: slot.slotId,
          id: key!.id,
          format: opts.format,
        });
        ctx.out.result(exported, () =>
          opts.format === 'pem' ? exported.pem!.trimEnd() : JSON.stringify(exported.jwk, null, 2),
        );
      });

    keys
      .command('kcv <ref>')
      .description("a secret key's check value (cmac for AES, hmac for HMAC keys)")
      .action(async (ref: string) => {
        const ctx = context();
        const slot = await loggedInSlot(ctx);
        const [key] = await resolveKey(ctx, slot.slotId, ref, ['secret']);
        const kcv = await ctx.call('keys.kcv', { slotId: slot.slotId, id: key!.id });
        ctx.out.result(kcv, () => `${formatKcv(kcv.kcv)} (${kcv.method})`);
      });

    keys
      .command('destroy <ref>')
      .description('destroy a key on the token; it cannot be undone')
      .option('--yes', 'confirm the destruction')
      .action(async (ref: string, opts: { yes?: boolean }) => {
        const ctx = context();
        if (!opts.yes)
          throw new MkmError(
            'CONFIRMATION_REQUIRED',
            'Destroying a key cannot be undone: add --yes to confirm.',
          );
        const slot = await loggedInSlot(ctx);
        const objects = await resolveKey(ctx, slot.slotId, ref);
        let destroyed = 0;
        for (const o of objects) {
          destroyed += (
            await ctx.call('keys.destroy', { slotId: slot.slotId, id: o.id, class: o.class, confirm: true })
          ).destroyed;
        }
        ctx.out.result({ destroyed }, () => `destroyed ${destroyed} object(s) with id ${objects[0]!.id}`);
      });
  },
};
