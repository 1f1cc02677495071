import { Option } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  CEREMONY_KEY_PURPOSES,
  CEREMONY_TEMPLATES,
  COMPONENT_KEY_TYPES,
  TemplateParamsSchema,
  type CeremonyTemplate,
  type ScriptStep,
} from '../../shared/ceremony/script.std';
import type {
  CeremonyReview,
  CeremonyView,
  TranscriptVerification,
} from '../../shared/contract/ceremony.std';
import { parseKekBackup } from '../../shared/ceremony/share-ops.std'; // M-of-N shares
import { MkmError } from '../../shared/errors.std';
import { pgpWordsOfHex } from '../../shared/formats/pgp-words.std';
import { transcriptPdf } from '../../shared/print/transcript-pdf.std';
import { printableRecord, transcriptHtml } from '../../shared/print/transcript-print.std';
import { checkDestination } from '../core/destination.nodejs';
import { readBoundedFile, type CliContext, type CommandInstaller, type CommandModule } from './context.cli';
import { TRANSCRIPT_MAX_BYTES } from '../ceremony/transcript.nodejs';
import { usage } from './output.cli';
import { installFormKey } from './ceremony-run.cli';

/**
 * `mkm ceremony ...`: key ceremonies (issue 11) from the command line. Reading them (templates,
 * review, list, status), exporting the signed transcript of one that ended, and checking a
 * transcript file anywhere, with no token: verify-transcript exits 0 only when the chain, the
 * script hash and the signature all hold (and the signer is the one given with --signer); a
 * refused file exits 1 with its TRANSCRIPT_* code in one line.
 */

const readTranscript = (file: string): string =>
  readBoundedFile(
    file,
    TRANSCRIPT_MAX_BYTES,
    (bytes) =>
      new MkmError(
        'TRANSCRIPT_FORMAT_INVALID',
        `${file} is ${bytes} bytes; a transcript is at most ${TRANSCRIPT_MAX_BYTES}.`,
        {
          reason: 'too-large',
          bytes,
          limit: TRANSCRIPT_MAX_BYTES,
        },
      ),
  );

const words = (hex: string) => pgpWordsOfHex(hex).join(' ');

function stepLine(step: ScriptStep | CeremonyView['steps'][number], n: number, mark = ''): string {
  const who = step.roles.join(' + ') + (step.dualControl ? ' (dual control)' : '');
  return `${mark}${String(n + 1).padStart(2)}. ${step.title}\n      by ${who}`;
}

function reviewText(r: CeremonyReview): string {
  return [
    `ceremony         ${r.script.title}`,
    `template         ${r.script.template} (script version ${r.script.version})`,
    `custodians       ${r.script.custodians}`,
    `script sha256    ${r.scriptHash}`,
    `script words     ${words(r.scriptHash)}`,
    'steps:',
    ...r.script.steps.map((s, i) => stepLine(s, i)),
    'Every participant compares the script hash (read the words aloud) with the one the ceremony shows at start.',
  ].join('\n');
}

function viewText(v: CeremonyView): string {
  const lines = [
    `ceremony         ${v.id}`,
    `title            ${v.title}`,
    `template         ${v.template}`,
    `state            ${v.state}${v.current ? `, at step ${v.current}` : ''}`,
    `started          ${v.startedAt}`,
    `closed           ${v.closedAt ?? '-'}`,
    `token            ${v.token.label.trim()} (serial ${v.token.serial.trim()}, ${v.token.manufacturer.trim()} ${v.token.model.trim()})`,
    `script sha256    ${v.scriptHash}`,
    `script words     ${words(v.scriptHash)}`,
    `transcript       ${v.transcriptEntries} entries${v.transcriptHead ? `, head ${v.transcriptHead}` : ''}`,
    'participants:',
    ...(v.participants.length
      ? v.participants.map(
          (p) =>
            `  ${p.id}  ${p.role}${p.custodian !== null ? ` ${p.custodian}` : ''}  ${p.name}${p.signedOff ? '  (signed off)' : ''}`,
        )
      : ['  none identified yet']),
    'steps:',
    ...v.steps.map((s, i) =>
      stepLine(s, i, s.done ? '[x] ' : s.id === v.current ? '[>] ' : '[ ] ').concat(
        s.by.length ? `; done by ${s.by.join(', ')}` : '',
      ),
    ),
  ];
  const facts = Object.entries(v.facts);
  if (facts.length) lines.push('facts:', ...facts.map(([k, value]) => `  ${k}  ${String(value)}`));
  return lines.join('\n');
}

function verificationText(v: TranscriptVerification, signerGiven: boolean): string {
  return [
    signerGiven
      ? 'VERIFIED: chain intact, script hash matches, signature valid, signer is the expected fingerprint'
      : 'VERIFIED: chain intact, script hash matches, signature valid (the signer was NOT compared: add --signer FINGERPRINT, as the ceremony announced it)',
    `ceremony         ${v.ceremonyId}`,
    `template         ${v.template}`,
    `title            ${v.title}`,
    `state            ${v.state}`,
    `signer           spki-sha256 ${v.signer}`,
    `entries          ${v.entries}`,
    ...v.participants.map((p) => `participant      ${p.role}  ${p.name}`),
  ].join('\n');
}

/** A ceremony by its id, or by a prefix of it that names only one (as transcript file names show). */
async function resolveCeremony(ctx: CliContext, ref: string): Promise<string> {
  const wanted = ref.trim().toLowerCase();
  if (!/^[0-9a-f-]{4,36}$/.test(wanted)) throw usage(`"${ref}" is not a ceremony id.`);
  const ids = (await ctx.call('ceremony.list')).map((c) => c.id);
  if (ids.includes(wanted)) return wanted;
  const matches = ids.filter((id) => id.startsWith(wanted));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new MkmError('CONFLICT', `"${ref}" starts ${matches.length} ceremony ids: ${matches.join(', ')}.`);
  }
  throw new MkmError('CEREMONY_NOT_FOUND', `No ceremony "${ref}" on this machine. Run "mkm ceremony list".`, {
    id: ref,
  });
}

function count(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,2}$/.test(value.trim())) throw usage(`${flag} is a whole number.`);
  return Number(value);
}

interface ReviewOptions {
  template: CeremonyTemplate;
  keyType?: string;
  components?: string;
  label?: string;
  purpose?: string;
  keyId?: string;
  kbpkId?: string;
  shares?: string;
  threshold?: string;
  backup?: string; // M-of-N shares
  // TR-31
  usage?: string;
  modeOfUse?: string;
  exportability?: string;
  blockVersion?: string;
  kbpkType?: string;
}

const FLAGS: Record<string, string> = {
  keyType: '--key-type',
  components: '--components',
  label: '--label',
  purpose: '--purpose',
  keyId: '--key-id',
  kbpkId: '--kbpk-id',
  shares: '--shares',
  threshold: '--threshold',
  backup: '--backup', // M-of-N shares
  // TR-31
  usage: '--usage',
  modeOfUse: '--mode-of-use',
  exportability: '--exportability',
  version: '--block-version',
  kbpkType: '--kbpk-type',
};

/** The template's parameters as given; one the template does not take is refused by its flag. */
function paramsOf(o: ReviewOptions): Record<string, unknown> {
  const given: Record<string, unknown> = {
    template: o.template,
    keyType: o.keyType,
    components: count(o.components, '--components'),
    label: o.label,
    purpose: o.purpose,
    keyId: o.keyId?.toLowerCase(),
    kbpkId: o.kbpkId?.toLowerCase(),
    shares: count(o.shares, '--shares'),
    threshold: count(o.threshold, '--threshold'),
    backup: o.backup === undefined ? undefined : backupFile(o.backup), // M-of-N shares
    // TR-31
    usage: o.usage?.toUpperCase(),
    modeOfUse: o.modeOfUse?.toUpperCase(),
    exportability: o.exportability?.toUpperCase(),
    version: o.blockVersion?.toUpperCase(),
    kbpkType: o.kbpkType,
  };
  const params = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const takes = TemplateParamsSchema.options.find((t) => t.shape.template.value === o.template)!.shape;
  const extra = Object.keys(params).filter((k) => !(k in takes));
  if (extra.length) {
    const wanted = Object.keys(takes).filter((k) => k !== 'template');
    throw usage(
      `--template ${o.template} does not take ${extra.map((k) => FLAGS[k]).join(', ')}; it takes ${wanted.map((k) => FLAGS[k]).join(', ')}.`,
    );
  }
  return params;
}

// M-of-N shares: the public backup record a kek-backup ceremony wrote (<id>.kek-backup.json).
function backupFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new MkmError('IO_ERROR', `Cannot read ${file}.`, {
      file,
      reason: (error as { code?: string }).code ?? 'unknown',
    });
  }
  return parseKekBackup(text);
}

const install: CommandInstaller = (ceremony, context) => {
  installFormKey(ceremony, context);
  ceremony
    .command('verify-transcript <file>')
    .description(
      'check a signed ceremony transcript (.mkmx): chain, script hash, signature (no token needed)',
    )
    .option('--signer <sha256>', "the signing key's SPKI-SHA256 fingerprint, as the ceremony announced it")
    .action(async (file: string, opts: { signer?: string }) => {
      const ctx = context();
      const signer = opts.signer?.replace(/[\s:]+/g, '');
      const v = await ctx.call('ceremony.verifyTranscript', {
        text: readTranscript(file),
        ...(signer !== undefined ? { expectedSigner: signer } : {}),
      });
      ctx.out.result({ ...v, signerChecked: signer !== undefined }, () =>
        verificationText(v, signer !== undefined),
      );
    });

  ceremony
    .command('templates')
    .description('the ceremony templates this build offers')
    .action(async () => {
      const ctx = context();
      const list = await ctx.call('ceremony.templates');
      ctx.out.result(list, () => list.map((t) => `${t.template.padEnd(12)}  ${t.description}`).join('\n'));
    });

  ceremony
    .command('review')
    .description('print the script a template makes, each step and who does it, and its hash to compare')
    .addOption(
      new Option('--template <template>', 'the ceremony template')
        .choices([...CEREMONY_TEMPLATES])
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--key-type <type>', 'form-key, split-key: the key type').choices([...COMPONENT_KEY_TYPES]),
    )
    .option('--components <n>', 'form-key, split-key: how many components (2 to 9)')
    .option('--label <label>', 'form-key, split-key, kek-recover, tr31-import: the key label')
    .addOption(
      new Option('--purpose <purpose>', 'form-key, split-key: what the key is for').choices([
        ...CEREMONY_KEY_PURPOSES,
      ]),
    )
    .option('--key-id <hex>', 'kek-backup, tr31-export: the key (CKA_ID in hex)')
    .option('--kbpk-id <hex>', 'tr31-export, tr31-import: the key block protection key (CKA_ID in hex)')
    .option('--shares <n>', 'kek-backup, kek-recover, share-drill: how many shares')
    .option('--threshold <n>', 'kek-backup, kek-recover, share-drill: how many shares recover the key')
    .option('--backup <file>', 'kek-recover, share-drill: the backup record (.kek-backup.json)') // M-of-N shares
    // TR-31
    .option('--usage <usage>', 'tr31-export: the key usage of the block (D0, K0, K1, P0, B0, M3, ...)')
    .option('--mode-of-use <mode>', 'tr31-export: the mode of use (B, E, D, C, G, V, X, N)')
    .option('--exportability <e>', 'tr31-export: E, N (never exported again) or S')
    .option('--block-version <v>', 'tr31-export: D (AES KBPK) or B (TDES KBPK)')
    .option(
      '--kbpk-type <type>',
      "tr31-export, tr31-import: the KBPK's type where the token does not tell its size",
    )
    .action(async (opts: ReviewOptions) => {
      const ctx = context();
      const r = await ctx.call('ceremony.review', paramsOf(opts) as never);
      ctx.out.result({ ...r, scriptWords: pgpWordsOfHex(r.scriptHash) }, () => reviewText(r));
    });

  ceremony
    .command('list')
    .description('the ceremonies on this machine, newest first')
    .action(async () => {
      const ctx = context();
      const list = await ctx.call('ceremony.list');
      ctx.out.result(list, () =>
        list.length
          ? list
              .map(
                (c) => `${c.id}  ${c.state.padEnd(9)}  ${c.template.padEnd(12)}  ${c.startedAt}  ${c.title}`,
              )
              .join('\n')
          : 'no ceremonies on this machine',
      );
    });

  ceremony
    .command('status <id>')
    .description('one ceremony: its steps, participants, check values and transcript (id or a unique prefix)')
    .action(async (ref: string) => {
      const ctx = context();
      const v = await ctx.call('ceremony.status', { id: await resolveCeremony(ctx, ref) });
      ctx.out.result(v, () => viewText(v));
    });

  ceremony
    .command('transcript <id>')
    .description('write the transcript of a ceremony that ended: signed (.mkmx), or printable (HTML, PDF)')
    .requiredOption('--out <file>', 'the transcript file to write')
    .addOption(
      new Option('--format <format>', 'mkmx: the signed record; html, pdf: to print and file')
        .choices(['mkmx', 'html', 'pdf'])
        .default('mkmx'),
    )
    .option('--force', 'replace the file if it exists', false)
    .action(async (ref: string, opts: { out: string; force: boolean; format: 'mkmx' | 'html' | 'pdf' }) => {
      const ctx = context();
      const t = await ctx.call('ceremony.transcript', { id: await resolveCeremony(ctx, ref) });
      // Out of the data folder, and never over a file unless --force says so.
      const out = checkDestination(resolve(opts.out), {
        dataDir: (await ctx.app()).paths.root,
        overwrite: opts.force,
      });
      // A print is made from the record main verified; it shows what the record holds, no more.
      const body =
        opts.format === 'mkmx'
          ? t.text
          : opts.format === 'html'
            ? transcriptHtml(printableRecord(t.text))
            : await transcriptPdf(printableRecord(t.text));
      try {
        // Names, check values and fingerprints only: readable by others, it is carried to auditors.
        writeFileSync(out, body, { flag: opts.force ? 'w' : 'wx', mode: 0o644 });
      } catch (error) {
        if ((error as { code?: string }).code === 'EEXIST')
          throw new MkmError('DESTINATION_EXISTS', undefined, { out: opts.out });
        throw new MkmError('IO_ERROR', `Cannot write ${opts.out}.`, {
          out: opts.out,
          reason: (error as { code?: string }).code ?? 'unknown',
        });
      }
      ctx.out.result({ file: opts.out, format: opts.format, signer: t.signer, entries: t.entries }, () =>
        [
          `wrote ${opts.out} (${opts.format}, ${t.entries} entries)`,
          `signer           spki-sha256 ${t.signer}`,
          opts.format === 'mkmx'
            ? `Check it anywhere with: mkm ceremony verify-transcript ${opts.out} --signer ${t.signer}`
            : 'A print to read and file; the signed .mkmx (--format mkmx) is what verify-transcript checks.',
        ].join('\n'),
      );
    });
};

export const commands: CommandModule['commands'] = { ceremony: install };
