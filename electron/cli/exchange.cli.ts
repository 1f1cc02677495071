import { Option } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  EXCHANGE_DEFAULT_LIFETIME_DAYS,
  EXCHANGE_MAX_BYTES,
  EXCHANGE_MAX_LIFETIME_DAYS,
  EXCHANGE_PURPOSES,
  type ExchangePolicy,
  type ExchangeItemView,
  type ExchangePurpose,
  type ExchangeSummary,
  type ExchangeVerification,
} from '../../shared/contract/exchange.std';
import { MkmError } from '../../shared/errors.std';
import { refuseInDataFolder } from '../core/destination.nodejs';
import {
  readBoundedFile,
  loggedInSlot,
  resolveKey,
  type CliContext,
  type CommandInstaller,
  type CommandModule,
} from './context.cli';
import { resolveProfile } from './gateway.cli';
import { usage } from './output.cli';
import { formatKcv, keyTypeName } from '../../shared/wording.std';

/**
 * `mkm exchange ...`: signed exchange packages (.mkmx) between an air-gapped machine with the
 * token and an online one. export signs on the token (MKM_PIN); verify and import need no token:
 * they check the file against the signer fingerprint given with --signer (got from the signer's
 * owner by another channel) or a signer this installation trusts. Exit 0 only when every check
 * passed; a refused package exits 1 with its EXCHANGE_* code and the reason in one line.
 */

const KINDS = ['registration', 'gateway-key', 'announcement'] as const;

const exists = (out: string) =>
  new MkmError('CONFLICT', `${out} already exists; add --force to replace it.`, { out });

// Measured before reading: a huge file is refused without loading it.
const readPackage = (file: string): string =>
  readBoundedFile(
    file,
    EXCHANGE_MAX_BYTES,
    (bytes) =>
      new MkmError(
        'EXCHANGE_TOO_LARGE',
        `${file} is ${bytes} bytes; an exchange package is at most ${EXCHANGE_MAX_BYTES}.`,
        {
          reason: 'too-large',
          bytes,
          limit: EXCHANGE_MAX_BYTES,
        },
      ),
  );

function itemLine(i: ExchangeItemView): string {
  switch (i.kind) {
    case 'registration-request':
      return `registration request  ${i.keyId}  "${i.label}"  rsa-${i.bits}  spki-sha256 ${i.spkiSha256}  ${i.wrapping}`;
    case 'public-key':
      return `public key            ${i.keyId}  "${i.label}"  rsa-${i.bits}${i.purpose ? ` ${i.purpose}` : ''}  spki-sha256 ${i.spkiSha256}`;
    case 'kcv':
      return `key check value       ${i.keyId}  "${i.label}"  ${keyTypeName(i.keyType)}  KCV ${formatKcv(i.kcv)} (${i.method})`;
    case 'gateway-key':
      return `gateway public key    spki-sha256 ${i.spkiSha256}  ${i.padding}${i.gatewayKeyId ? `  key id ${i.gatewayKeyId}` : ''}  from profile ${i.profile.id} (${i.profile.baseUrl})`;
    case 'registration-receipt':
      return `registration receipt  ${i.keyId}  ${i.status}  spki-sha256 ${i.spkiSha256}  ${i.wrapping}  registered ${i.registeredAt}`;
  }
}

function summaryText(s: ExchangeSummary): string {
  return [
    `package          ${s.id}  ${s.purpose}`,
    `made             ${s.created} by ${s.producer.osUser} on token ${s.producer.token.label} (serial ${s.producer.token.serial}), mkm ${s.producer.appVersion}`,
    `expires          ${s.expires}`,
    `signer           "${s.signer.label}" rsa-${s.signer.bits}  spki-sha256 ${s.signer.spkiSha256}`,
    `signature        ${s.algorithm}`,
    ...s.items.map((i) => `item             ${itemLine(i)}`),
  ].join('\n');
}

function trustText(v: ExchangeVerification): string {
  return v.trust.by === 'expected-fingerprint'
    ? 'VERIFIED: signature valid, signer is the expected fingerprint'
    : `VERIFIED: signature valid, signer trusted here as "${v.trust.name}" (since ${v.trust.addedAt})`;
}

const signerOption = () =>
  new Option('--signer <sha256>', "the signer's SPKI-SHA256 fingerprint, as its owner told you");
const expectOption = () =>
  new Option('--expect <purpose>', 'refuse a package of another purpose').choices([...EXCHANGE_PURPOSES]);
const requirePssOption = () =>
  new Option('--require-pss', 'refuse a PKCS#1 v1.5 signature (the stored policy may already)');

/** `--expires 7`, `7d`: days from now (whole days, 1 to EXCHANGE_MAX_LIFETIME_DAYS). */
function expiryDays(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,3})d?$/.exec(value.trim());
  const days = m ? Number(m[1]) : NaN;
  if (!(days >= 1 && days <= EXCHANGE_MAX_LIFETIME_DAYS)) {
    throw usage(`${flag} is a whole number of days from 1 to ${EXCHANGE_MAX_LIFETIME_DAYS} (e.g. 7 or 7d).`);
  }
  return days;
}

function policyText(p: ExchangePolicy): string {
  const since = p.changedAt ? ` (since ${p.changedAt}, by ${p.changedBy})` : ' (default)';
  return p.requirePss
    ? `signatures: RSASSA-PSS only; PKCS#1 v1.5 packages are refused${since}`
    : `signatures: RSASSA-PSS and PKCS#1 v1.5 accepted${since}`;
}

async function keyIdOf(
  ctx: CliContext,
  slotId: number,
  ref: string,
  classes: ('private' | 'secret' | 'public')[],
) {
  return (await resolveKey(ctx, slotId, ref, classes))[0]!.id;
}

const install: CommandInstaller = (exchange, context) => {
  exchange
    .command('export')
    .description('make a signed package on the token (needs MKM_PIN)')
    .addOption(
      new Option('--kind <kind>', 'what the package carries').choices([...KINDS]).makeOptionMandatory(),
    )
    .requiredOption('--signing-key <id|label>', 'the signing-purpose RSA key on the token')
    .requiredOption('--out <file>', 'the package file to write (.mkmx)')
    .option(
      '--key <id|label>',
      'registration: a transport key; announcement: any key (repeat for more)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--profile <profile>', 'gateway-key: the gateway profile whose pinned key is exported')
    .option(
      '--expires <days>',
      `the package expires after this many days (default ${EXCHANGE_DEFAULT_LIFETIME_DAYS}, at most ${EXCHANGE_MAX_LIFETIME_DAYS})`,
    )
    .addOption(new Option('--expires-days <days>', 'the same as --expires').hideHelp())
    .addOption(
      new Option('--alg <alg>', 'signature algorithm (auto: PSS when the token does it)').choices([
        'auto',
        'pss',
        'pkcs1',
      ]),
    )
    .option('--force', 'replace the file if it exists', false)
    .action(
      async (opts: {
        kind: (typeof KINDS)[number];
        signingKey: string;
        out: string;
        key: string[];
        profile?: string;
        expires?: string;
        expiresDays?: string;
        alg?: 'auto' | 'pss' | 'pkcs1';
        force: boolean;
      }) => {
        const ctx = context();
        if (opts.kind === 'gateway-key' && opts.key.length)
          throw usage('--key does not apply to --kind gateway-key.');
        if (opts.kind !== 'gateway-key' && opts.key.length === 0)
          throw usage(`--kind ${opts.kind} needs at least one --key.`);
        if (opts.expires !== undefined && opts.expiresDays !== undefined) throw usage('Give --expires once.');
        const days = expiryDays(opts.expires, '--expires') ?? expiryDays(opts.expiresDays, '--expires-days');
        // Where it goes is checked before anything is signed: never into the data folder, and an
        // existing file only with --force (checked again when writing, with 'wx').
        const target = refuseInDataFolder(resolve(opts.out), (await ctx.app()).paths.root);
        if (!opts.force && existsSync(target)) throw exists(opts.out);
        const slot = await loggedInSlot(ctx);
        const signingKeyId = await keyIdOf(ctx, slot.slotId, opts.signingKey, ['private']);
        const keyIds: string[] = [];
        for (const ref of opts.key) {
          keyIds.push(
            await keyIdOf(
              ctx,
              slot.slotId,
              ref,
              opts.kind === 'registration' ? ['private'] : ['private', 'public', 'secret'],
            ),
          );
        }
        const profileId =
          opts.kind === 'gateway-key' ? (await resolveProfile(ctx, opts.profile)).id : undefined;
        const made = await ctx.call('exchange.export', {
          kind: opts.kind,
          slotId: slot.slotId,
          signingKeyId,
          ...(keyIds.length ? { keyIds } : {}),
          ...(profileId ? { profileId } : {}),
          ...(days ? { expiresInDays: days } : {}),
          ...(opts.alg ? { algorithm: opts.alg } : {}),
        });
        try {
          // Public material only, so readable by others (it is carried to another machine).
          writeFileSync(target, made.text, { flag: opts.force ? 'w' : 'wx', mode: 0o644 });
        } catch (error) {
          if ((error as { code?: string }).code === 'EEXIST') throw exists(opts.out);
          throw new MkmError('IO_ERROR', `Cannot write ${opts.out}.`, {
            out: opts.out,
            reason: (error as { code?: string }).code ?? 'unknown',
          });
        }
        ctx.out.result({ file: opts.out, summary: made.summary }, () =>
          [
            `wrote ${opts.out}`,
            summaryText(made.summary),
            `The receiving side checks it with: mkm exchange verify ${opts.out} --signer ${made.summary.signer.spkiSha256}`,
          ].join('\n'),
        );
      },
    );

  exchange
    .command('verify <file>')
    .description('check a package: format, signature, signer, fingerprints, expiry (changes nothing)')
    .addOption(signerOption())
    .addOption(expectOption())
    .addOption(requirePssOption())
    .action(
      async (file: string, opts: { signer?: string; expect?: ExchangePurpose; requirePss?: boolean }) => {
        const ctx = context();
        const v = await ctx.call('exchange.verify', {
          package: readPackage(file),
          ...(opts.signer ? { signer: opts.signer } : {}),
          ...(opts.expect ? { expect: opts.expect } : {}),
          ...(opts.requirePss ? { requirePss: true } : {}),
        });
        ctx.out.result(v, () => [trustText(v), summaryText(v.summary)].join('\n'));
      },
    );

  exchange
    .command('import <file>')
    .description('verify a package, then upload its registrations (online) or pin its gateway key (offline)')
    .addOption(signerOption())
    .addOption(expectOption())
    .addOption(requirePssOption())
    .option('--profile <profile>', 'the gateway profile to upload to or pin for')
    .action(
      async (
        file: string,
        opts: { signer?: string; expect?: ExchangePurpose; requirePss?: boolean; profile?: string },
      ) => {
        const ctx = context();
        const text = readPackage(file);
        const profile = await resolveProfile(ctx, opts.profile);
        const r = await ctx.call('exchange.import', {
          package: text,
          profileId: profile.id,
          ...(opts.signer ? { signer: opts.signer } : {}),
          ...(opts.expect ? { expect: opts.expect } : {}),
          ...(opts.requirePss ? { requirePss: true } : {}),
        });
        ctx.out.result(r, () => {
          const lines = [trustText(r.verification), summaryText(r.verification.summary)];
          for (const reg of r.registrations ?? []) {
            lines.push(
              `registered       ${reg.keyId} at ${profile.id}: ${reg.created ? 'new' : 'already registered'}, ${reg.status}, ${reg.wrapping}, ${reg.registeredAt}`,
            );
          }
          if (r.gatewayKey) {
            lines.push(
              r.gatewayKey.status === 'rotation-pending'
                ? `gateway key      ROTATION PENDING for ${profile.id}: ${r.gatewayKey.pending}\n                 check it, then: mkm gateway confirm-rotation ${r.gatewayKey.pending} ${profile.id}`
                : `gateway key      pinned for ${profile.id}: spki-sha256 ${r.gatewayKey.pinned}`,
            );
          }
          return lines.join('\n');
        });
      },
    );

  exchange
    .command('policy')
    .description(
      'which package signatures this installation accepts; change it with --require-pss or --allow-pkcs1 --yes',
    )
    .option('--require-pss', 'refuse PKCS#1 v1.5 signatures from now on')
    .option('--allow-pkcs1', 'accept PKCS#1 v1.5 signatures again')
    .option('--yes', 'confirm the change')
    .action(async (opts: { requirePss?: boolean; allowPkcs1?: boolean; yes?: boolean }) => {
      const ctx = context();
      if (opts.requirePss && opts.allowPkcs1) throw usage('Give --require-pss or --allow-pkcs1, not both.');
      if (!opts.requirePss && !opts.allowPkcs1) {
        const p = await ctx.call('exchange.policy');
        ctx.out.result(p, () => policyText(p));
        return;
      }
      if (!opts.yes) {
        throw new MkmError(
          'CONFIRMATION_REQUIRED',
          'Changing which signatures are accepted is an admin decision; add --yes.',
        );
      }
      const p = await ctx.call('exchange.setPolicy', { requirePss: opts.requirePss === true, confirm: true });
      ctx.out.result(p, () => policyText(p));
    });

  exchange
    .command('signers')
    .description('the package signers this installation trusts')
    .action(async () => {
      const ctx = context();
      const list = await ctx.call('exchange.trustedSigners');
      ctx.out.result(list, () =>
        list.length
          ? list.map((s) => `${s.spkiSha256}  "${s.name}"  added ${s.addedAt} by ${s.addedBy}`).join('\n')
          : 'no trusted signers (verify with --signer FINGERPRINT, or add one with mkm exchange trust)',
      );
    });

  exchange
    .command('trust <sha256>')
    .description('trust a package signer by its fingerprint (compare it with its owner first)')
    .requiredOption('--name <name>', 'who this signer is (e.g. "Vault ceremony token 2026")')
    .option('--yes', 'confirm')
    .action(async (fingerprint: string, opts: { name: string; yes?: boolean }) => {
      const ctx = context();
      if (!opts.yes) {
        throw new MkmError(
          'CONFIRMATION_REQUIRED',
          'Trusting a signer lets its packages be imported without --signer; add --yes once you compared the fingerprint with its owner.',
        );
      }
      const s = await ctx.call('exchange.trustSigner', {
        spkiSha256: fingerprint,
        name: opts.name,
        confirm: true,
      });
      ctx.out.result(s, () => `trusted ${s.spkiSha256} as "${s.name}"`);
    });

  exchange
    .command('untrust <sha256>')
    .description('stop trusting a package signer')
    .option('--yes', 'confirm')
    .action(async (fingerprint: string, opts: { yes?: boolean }) => {
      const ctx = context();
      if (!opts.yes) throw new MkmError('CONFIRMATION_REQUIRED', 'Add --yes to stop trusting this signer.');
      const r = await ctx.call('exchange.untrustSigner', { spkiSha256: fingerprint, confirm: true });
      ctx.out.result(r, () =>
        r.removed ? `no longer trusted: ${fingerprint}` : `${fingerprint} was not trusted`,
      );
    });
};

export const commands: CommandModule['commands'] = { exchange: install };
