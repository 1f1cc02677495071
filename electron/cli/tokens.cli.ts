import { Option } from 'commander';
import type { ObjectInfo, SlotSummary } from '../../shared/tokens.std';
import { KeyTypeSchema, KeyPurposeSchema } from '../../shared/tokens.std';
import { MkmError } from '../../shared/errors.std';
import { addCommands, type CliContext } from './context.cli';
import { readPin } from './pin.cli';
import { formatKcv, keyTypeName, usageNames } from '../../shared/wording.std';

/**
 * Token and key commands: `mkm tokens`, `mkm login-test`, `mkm capabilities`, `mkm keys ...`.
 * The token is the one named by --slot or --token, else the only (or first) one present.
 */
export async function resolveSlot(ctx: CliContext): Promise<SlotSummary> {
  const slots = await ctx.call('tokens.list');
  const { slot, token } = ctx.options;
  if (slot !== undefined) {
    const found = slots.find((s) => String(s.slotId) === slot);
    if (!found) throw new MkmError('SLOT_NOT_FOUND', `No slot ${slot}. Run "mkm tokens" to see the slots.`);
    if (!found.token) throw new MkmError('TOKEN_NOT_PRESENT', `Slot ${slot} holds no token.`);
    return found;
  }
  const present = slots.filter((s) => s.token?.flags.tokenInitialized);
  if (token !== undefined) {
    const found = present.find((s) => s.token!.label.trim() === token);
    if (!found)
      throw new MkmError('SLOT_NOT_FOUND', `No token labelled "${token}". Run "mkm tokens" to see them.`);
    return found;
  }
  const first = present[0];
  if (!first) throw new MkmError('TOKEN_NOT_PRESENT', 'No initialized token is present.');
  return first;
}

export async function loggedInSlot(ctx: CliContext): Promise<SlotSummary> {
  const slot = await resolveSlot(ctx);
  if (!slot.session.loggedIn) {
    const flags = slot.token!.flags;
    // A token that needs no login (CKF_LOGIN_REQUIRED clear) is used without a PIN, headless too;
    // the PIN pad takes the PIN when there is one and MKM_PIN is not set.
    const noPin = !flags.loginRequired || (flags.protectedAuthenticationPath && !process.env.MKM_PIN);
    await ctx.call(
      'tokens.login',
      noPin ? { slotId: slot.slotId } : { slotId: slot.slotId, pin: await readPin() },
    );
  }
  return slot;
}

/** A key named by its CKA_ID (hex) or its label; an ambiguous label is refused, not guessed. */
export async function resolveKey(
  ctx: CliContext,
  slotId: number,
  ref: string,
  classes?: ObjectInfo['class'][],
) {
  const objects = (await ctx.call('keys.list', { slotId })).filter(
    (o) => !classes || classes.includes(o.class),
  );
  const byId = objects.filter((o) => o.id === ref.toLowerCase());
  const matches = byId.length ? byId : objects.filter((o) => o.label === ref);
  if (matches.length === 0) throw new MkmError('KEY_NOT_FOUND', `No key with id or label "${ref}".`);
  const ids = new Set(matches.map((o) => o.id));
  if (ids.size > 1) {
    throw new MkmError('CONFLICT', `"${ref}" names ${ids.size} keys; use an id: ${[...ids].join(', ')}.`);
  }
  return matches;
}

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

addCommands((program, context) => {
  program
    .command('tokens')
    .description('list PKCS#11 slots and tokens with their flags')
    .action(async () => {
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
    });

  program
    .command('login-test')
    .description('log in to the token (PIN from MKM_PIN or a prompt) and out again')
    .action(async () => {
      const ctx = context();
      const slot = await loggedInSlot(ctx);
      await ctx.call('tokens.logout', { slotId: slot.slotId });
      ctx.out.result(
        { ok: true, slotId: slot.slotId, label: slot.token!.label.trim() },
        () => `login ok on "${slot.token!.label.trim()}" (slot ${slot.slotId})`,
      );
    });

  program
    .command('capabilities')
    .description('probe what the token really supports (cached per model and firmware)')
    .option('--refresh', 'probe again even when cached')
    .action(async (opts: { refresh?: boolean }) => {
      const ctx = context();
      const found = await resolveSlot(ctx);
      const slot = process.env.MKM_PIN || !found.token!.flags.loginRequired ? await loggedInSlot(ctx) : found;
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
    });

  const keys = program.command('keys').description('keys on the token');

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
});
