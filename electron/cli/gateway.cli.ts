import { Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { GatewayProfileView } from '../../shared/contract.std';
import type {
  GatewayKeySetView,
  GatewayKeyState,
  GatewayPublicKeyView,
  GatewaySigningKeyState,
  GatewaySigningKeyView,
} from '../../shared/contract/gateway.std';
import { groupFingerprint } from '../../shared/formats/fingerprint.std';
import { MkmError } from '../../shared/errors.std';
import {
  loggedInSlot,
  resolveKey,
  type CliContext,
  type CommandInstaller,
  type CommandModule,
} from './context.cli';
import { usage } from './output.cli';
import { readPin } from './pin.cli';

/**
 * `mkm gateway ...`: gateway profiles, the gateway's public key, the merchant's transport key,
 * key sets and a secure ping. The gateway password comes from the environment variable the
 * profile names (`add --password-env NAME`, never argv) or a prompt; a command that uses a token key logs in with MKM_PIN like every other command.
 * PROFILE is a profile id or name; it may be left out when there is exactly one profile.
 */
const CSE = { pkcs1: 'RSAES-PKCS1-V1_5', oaep: 'RSAES-OAEP-SHA256' } as const;

export async function resolveProfile(ctx: CliContext, ref: string | undefined): Promise<GatewayProfileView> {
  const profiles = await ctx.call('gateway.listProfiles');
  if (ref !== undefined) {
    const found = profiles.find((p) => p.id === ref) ?? profiles.filter((p) => p.name === ref)[0];
    if (!found) {
      throw new MkmError('NOT_FOUND', `No gateway profile "${ref}". Run "mkm gateway list" to see them.`);
    }
    return found;
  }
  if (profiles.length === 1) return profiles[0]!;
  if (profiles.length === 0) {
    throw new MkmError('NOT_FOUND', 'No gateway profile yet. Add one with "mkm gateway add".');
  }
  throw usage(
    `There are ${profiles.length} gateway profiles; name one (${profiles.map((p) => p.id).join(', ')}).`,
  );
}

/**
 * A command that signs in to the gateway: without the profile's variable, a terminal asks for the
 * password (echo off) and hands it to main for this run only. Without a terminal nothing is
 * asked, and the call fails with GATEWAY_PASSWORD_REQUIRED, which names the variable.
 */
async function ensurePassword(ctx: CliContext, profile: GatewayProfileView): Promise<void> {
  if (profile.passwordKnown || !process.stdin.isTTY) return;
  const password = await readPin(`Gateway password for ${profile.username} at ${profile.name}: `, {});
  if (password !== '') await ctx.call('gateway.setPassword', { profileId: profile.id, password });
}

const keyLine = (k: GatewayPublicKeyView) =>
  `spki-sha256 ${k.spkiSha256}  ${k.source}${k.keyId ? ` key id ${k.keyId}` : ''}  ${k.padding}  since ${k.seenAt}`;

/** Whether a person compared the pinned key's fingerprint with the gateway's (issue 15 point 5). */
function confirmationLine(
  pinned: GatewayPublicKeyView | GatewaySigningKeyView,
  key: 'encryption' | 'signing',
): string {
  const c = pinned.confirmed;
  return c
    ? `                 fingerprint confirmed by ${c.by}${c.role ? ` (${c.role})` : ''} at ${c.at}`
    : `                 UNCONFIRMED: compare ${groupFingerprint(pinned.spkiSha256)} with the one the gateway operator reads out, then: mkm gateway confirm-pin PROFILE${key === 'signing' ? ' --key signing' : ''} --fingerprint HEX --by NAME`;
}

function gatewayKeyText(s: GatewayKeyState): string {
  if (s.status === 'none' || !s.pinned) return 'gateway key      none pinned yet (run mkm gateway fetch-key)';
  return [
    `gateway key      pinned ${keyLine(s.pinned)}`,
    confirmationLine(s.pinned, 'encryption'),
    s.pending
      ? `ROTATION PENDING ${keyLine(s.pending)}\n                 check it with the gateway, then: mkm gateway confirm-rotation ${s.pending.spkiSha256}`
      : '',
  ]
    .filter(Boolean)
    .join('\n');
}

const signingLine = (k: GatewaySigningKeyView) =>
  `spki-sha256 ${k.spkiSha256}  ${k.source}${k.keyId ? ` key id ${k.keyId}` : ''}  since ${k.seenAt}`;

function signingKeyText(s: GatewaySigningKeyState): string {
  if (s.status === 'none' || !s.pinned) {
    return 'signing key      none pinned yet (run mkm gateway fetch-signing-key, or import-signing-key FILE)';
  }
  return [
    `signing key      pinned ${signingLine(s.pinned)}`,
    confirmationLine(s.pinned, 'signing'),
    ...s.previous.map(
      (p) => `                 also accepted until ${p.acceptedUntil}: spki-sha256 ${p.spkiSha256}`,
    ),
    s.pending
      ? `SIGNING KEY ROTATION PENDING ${signingLine(s.pending)}
                 key sets are refused until you check it with the gateway, then: mkm gateway confirm-signing-rotation ${s.pending.spkiSha256}`
      : '',
  ]
    .filter(Boolean)
    .join('\n');
}

const setText = (set: GatewayKeySetView | { refused: string } | null) =>
  set === null
    ? 'none'
    : 'refused' in set
      ? `refused (${set.refused}); the next message asks for a fresh one`
      : `${set.setId} under ${set.wrappingKeyId}, expires ${set.expiresAt}`;

const profileText = (p: GatewayProfileView) =>
  `${p.id}  "${p.name}"  ${p.baseUrl}  user ${p.username}  ${
    p.tlsPinSha256 ? `pin sha256:${p.tlsPinSha256}` : 'no TLS pin'
  }${p.cse ? `  cse ${p.cse}` : ''}${p.keyRolling ? '  key-rolling' : ''}${
    p.passwordEnv ? `  password from $${p.passwordEnv}` : ''
  }`;

interface PinnedKeySpec<S> {
  names: { fetch: string; import: string; confirm: string };
  what: string;
  importNote: string;
  fetch(ctx: CliContext, profileId: string): Promise<S>;
  importPem(ctx: CliContext, profileId: string, pem: string): Promise<S>;
  confirm(ctx: CliContext, profileId: string, fingerprint: string): Promise<S>;
  text(state: S): string;
}

/** fetch / import / confirm-rotation for one of the gateway's pinned keys. */
function pinnedKeyCommands<S>(gateway: Command, context: () => CliContext, spec: PinnedKeySpec<S>): void {
  gateway
    .command(spec.names.fetch)
    .description(`fetch the gateway's ${spec.what}; pinned on first sight, a rotation to confirm after`)
    .option('--profile <profile>', 'the gateway profile')
    .action(async (opts: { profile?: string }) => {
      const ctx = context();
      const profile = await resolveProfile(ctx, opts.profile);
      await ensurePassword(ctx, profile);
      const s = await spec.fetch(ctx, profile.id);
      ctx.out.result(s, () => spec.text(s));
    });

  gateway
    .command(`${spec.names.import} <file>`)
    .description(`import the gateway's ${spec.what} from a PEM file ${spec.importNote}`)
    .option('--profile <profile>', 'the gateway profile')
    .action(async (file: string, opts: { profile?: string }) => {
      const ctx = context();
      const profile = await resolveProfile(ctx, opts.profile);
      let pem: string;
      try {
        pem = readFileSync(file, 'utf8');
      } catch {
        throw new MkmError('IO_ERROR', `Could not read ${file}.`);
      }
      const s = await spec.importPem(ctx, profile.id, pem);
      ctx.out.result(s, () => spec.text(s));
    });

  gateway
    .command(`${spec.names.confirm} <fingerprint>`)
    .description(`accept the gateway's new ${spec.what}, named by its spki-sha256`)
    .option('--profile <profile>', 'the gateway profile')
    .action(async (fingerprint: string, opts: { profile?: string }) => {
      const ctx = context();
      const profile = await resolveProfile(ctx, opts.profile);
      const s = await spec.confirm(ctx, profile.id, fingerprint);
      ctx.out.result(s, () => spec.text(s));
    });
}

const install: CommandInstaller = (gateway, context) => {
  gateway
    .command('add')
    .description('add a gateway profile (the password is never stored)')
    .requiredOption('--name <name>', 'a name for the profile')
    .requiredOption('--url <url>', 'the gateway address, https://...')
    .requiredOption('--user <user>', 'the gateway user name')
    .option('--id <id>', 'the profile id (default: made from the name)')
    .option('--pin <sha256hex>', "the SHA-256 of the gateway's TLS public key (SPKI), hex")
    .addOption(new Option('--cse <padding>', 'client-side encryption padding').choices(Object.keys(CSE)))
    .option('--key-rolling', 'AES key-rolling secure messages')
    .option(
      '--password-env <NAME>',
      "the environment variable that holds this profile's password (e.g. MKM_GATEWAY_PASSWORD); no other variable serves it",
    )
    .action(
      async (opts: {
        name: string;
        url: string;
        user: string;
        id?: string;
        pin?: string;
        cse?: keyof typeof CSE;
        keyRolling?: boolean;
        passwordEnv?: string;
      }) => {
        const ctx = context();
        const profile = await ctx.call('gateway.addProfile', {
          name: opts.name,
          baseUrl: opts.url,
          username: opts.user,
          ...(opts.id ? { id: opts.id } : {}),
          ...(opts.pin ? { tlsPinSha256: opts.pin } : {}),
          ...(opts.cse ? { cse: CSE[opts.cse] } : {}),
          ...(opts.keyRolling ? { keyRolling: true } : {}),
          ...(opts.passwordEnv ? { passwordEnv: opts.passwordEnv } : {}),
        });
        ctx.out.result(profile, () => `added ${profileText(profile)}`);
      },
    );

  gateway
    .command('list')
    .description('list the gateway profiles')
    .action(async () => {
      const ctx = context();
      const profiles = await ctx.call('gateway.listProfiles');
      ctx.out.result(profiles, () =>
        profiles.length ? profiles.map(profileText).join('\n') : 'no gateway profiles',
      );
    });

  gateway
    .command('remove <profile>')
    .description('forget a gateway profile')
    .option('--yes', 'confirm')
    .action(async (ref: string, opts: { yes?: boolean }) => {
      const ctx = context();
      if (!opts.yes) throw new MkmError('CONFIRMATION_REQUIRED', 'Add --yes to forget the profile.');
      const profile = await resolveProfile(ctx, ref);
      const result = await ctx.call('gateway.removeProfile', { profileId: profile.id, confirm: true });
      ctx.out.result(result, () =>
        result.removed ? `removed ${profile.id}` : `${profile.id} was not there`,
      );
    });

  gateway
    .command('status [profile]')
    .description('pinned gateway key, transport keys, key set and last sync (no key material)')
    .action(async (ref: string | undefined) => {
      const ctx = context();
      const profile = await resolveProfile(ctx, ref);
      const s = await ctx.call('gateway.status', { profileId: profile.id });
      ctx.out.result(s, () =>
        [
          `profile          ${profileText(s.profile)}`,
          gatewayKeyText(s.gatewayKey),
          ...(s.profile.keyRolling || s.signingKey.status !== 'none' ? [signingKeyText(s.signingKey)] : []),
          ...(s.merchantKeys.length
            ? s.merchantKeys.map(
                (k) =>
                  `transport key    ${k.keyId}  ${k.status}  ${k.label ?? ''}  spki-sha256 ${k.spkiSha256}  ${k.wrapping ?? ''}`,
              )
            : ['transport key    none registered (run mkm gateway register ID|LABEL)']),
          `key set          ${
            s.keySet
              ? `${setText(s.keySet)}${s.keySet.inToken ? '' : ' (from an earlier run; not in the token now)'}`
              : 'none'
          }`,
          `last sync        ${
            s.lastSync
              ? `${s.lastSync.at} ${s.lastSync.ok ? 'ok' : `FAILED at ${s.lastSync.step}: ${s.lastSync.error?.code}`}`
              : 'never'
          }`,
        ].join('\n'),
      );
    });

  gateway
    .command('sync [profile]')
    .description("fetch and pin the gateway's key, list the transport keys, ensure a usable key set")
    .action(async (ref: string | undefined) => {
      const ctx = context();
      const profile = await resolveProfile(ctx, ref);
      if (profile.keyRolling) await loggedInSlot(ctx);
      await ensurePassword(ctx, profile);
      const r = await ctx.call('gateway.sync', { profileId: profile.id });
      ctx.out.result(r, () =>
        [
          `synced ${profile.id} at ${r.at}`,
          r.gatewayKey ? gatewayKeyText(r.gatewayKey) : '',
          r.signingKey ? signingKeyText(r.signingKey) : '',
          `transport keys   ${r.merchantKeys?.map((k) => `${k.keyId} ${k.status}`).join(', ') || 'none at the gateway'}`,
          profile.keyRolling ? `key set          ${setText(r.keySet)}` : '',
        ]
          .filter(Boolean)
          .join('\n'),
      );
    });

  gateway
    .command('ping [profile]')
    .description('a secure ping under a one-use key set')
    .action(async (ref: string | undefined) => {
      const ctx = context();
      const profile = await resolveProfile(ctx, ref);
      await loggedInSlot(ctx);
      await ensurePassword(ctx, profile);
      const r = await ctx.call('gateway.ping', { profileId: profile.id });
      ctx.out.result(
        r,
        () =>
          `pong from ${profile.id}: server time ${r.serverTime}, set ${r.setId}\nnext set ${setText(r.nextKeySet)}`,
      );
    });

  gateway
    .command('register <key>')
    .description("register a token RSA key pair (id or label) as the merchant's transport key")
    .option('--profile <profile>', 'the gateway profile')
    .action(async (ref: string, opts: { profile?: string }) => {
      const ctx = context();
      const profile = await resolveProfile(ctx, opts.profile);
      const slot = await loggedInSlot(ctx);
      const [key] = await resolveKey(ctx, slot.slotId, ref, ['private']);
      await ensurePassword(ctx, profile);
      const r = await ctx.call('gateway.registerTransportKey', {
        profileId: profile.id,
        slotId: slot.slotId,
        keyId: key!.id,
      });
      ctx.out.result(
        r,
        () =>
          `${r.created ? 'registered' : 'already registered'} ${r.keyId} at ${profile.id}  spki-sha256 ${r.spkiSha256}  ${r.wrapping}\nkey set ${setText(r.keySet)}`,
      );
    });

  gateway
    .command('confirm-pin [profile]')
    .description(
      "confirm a pinned gateway key by the fingerprint the gateway's operator read out to you; records who",
    )
    .requiredOption(
      '--fingerprint <hex>',
      'the SHA-256 they read out (64 hex digits; spaces or colons allowed)',
    )
    .requiredOption('--by <name>', 'who compared it (recorded in the audit log and the sealed gateway state)')
    .option('--role <role>', 'their role, e.g. "key custodian"')
    .addOption(
      new Option('--key <key>', 'which pinned key: encryption (default) or signing (contract 1.1)')
        .choices(['encryption', 'signing'])
        .default('encryption'),
    )
    .action(
      async (
        ref: string | undefined,
        opts: { fingerprint: string; by: string; role?: string; key: 'encryption' | 'signing' },
      ) => {
        const ctx = context();
        const profile = await resolveProfile(ctx, ref);
        const s = await ctx.call('gateway.confirmPin', {
          profileId: profile.id,
          key: opts.key,
          fingerprint: opts.fingerprint,
          by: opts.by,
          ...(opts.role ? { role: opts.role } : {}),
        });
        ctx.out.result(s, () =>
          opts.key === 'signing' ? signingKeyText(s.signingKey) : gatewayKeyText(s.gatewayKey),
        );
      },
    );

  pinnedKeyCommands(gateway, context, {
    names: { fetch: 'fetch-key', import: 'import-key', confirm: 'confirm-rotation' },
    what: 'public key',
    importNote: '(a gateway without a key endpoint)',
    fetch: (ctx, profileId) => ctx.call('gateway.fetchKey', { profileId }),
    importPem: (ctx, profileId, pem) => ctx.call('gateway.importKeyPem', { profileId, pem }),
    confirm: (ctx, profileId, fingerprint) =>
      ctx.call('gateway.confirmKeyRotation', { profileId, fingerprint }),
    text: gatewayKeyText,
  });

  // Contract 1.1: the key that signs key sets, pinned and rotated the same way.
  pinnedKeyCommands(gateway, context, {
    names: { fetch: 'fetch-signing-key', import: 'import-signing-key', confirm: 'confirm-signing-rotation' },
    what: 'key-set signing key',
    importNote: '(RSA, 3072 bits or more)',
    fetch: (ctx, profileId) => ctx.call('gateway.fetchSigningKey', { profileId }),
    importPem: (ctx, profileId, pem) => ctx.call('gateway.importSigningKeyPem', { profileId, pem }),
    confirm: (ctx, profileId, fingerprint) =>
      ctx.call('gateway.confirmSigningKeyRotation', { profileId, fingerprint }),
    text: signingKeyText,
  });
};

export const commands: CommandModule['commands'] = { gateway: install };
