import { Option } from 'commander';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { batchSpeedText, problemsText } from '../../shared/console/batch-rows.std';
import type { ComposeFieldName, ComposeFields, ComposeReport } from '../../shared/console/compose.std';
import type {
  BatchSummary,
  ConsoleVerifyResult,
  EnvelopePart,
  RoundTripLeg,
} from '../../shared/contract/console.std';
import { MkmError } from '../../shared/errors.std';
import { TOKEN_WAIT_PHASES } from '../hsm/operations.nodejs';
import { loggedInSlot, resolveKey, type CommandInstaller, type CommandModule } from './context.cli';
import { resolveProfile } from './gateway.cli';
import { usage } from './output.cli';

/**
 * `mkm console ...`: the payload test console headless. Card data typed on a command line
 * stays in the shell's history and shows in `ps`: give `NAME=-` to read the value from stdin
 * (one line per field, in the order given) or `NAME=env:VAR` to read it from the environment.
 */

const FIELD_NAMES: Record<string, ComposeFieldName> = {
  number: 'number',
  pan: 'number',
  card: 'number',
  exp: 'expiration',
  expiration: 'expiration',
  csc: 'csc',
  cvv: 'csc',
  swipe: 'swipe',
  account: 'accountNumber',
  account_number: 'accountNumber',
  routing: 'routingNumber',
  routing_number: 'routingNumber',
};

const FIELD_HELP =
  'NAME=VALUE; NAME is number, exp, csc, swipe, account or routing. VALUE "-" reads a line from stdin, "env:VAR" the environment (keeps card data out of shell history)';

/** Values that must not sit in shell history (a test card is harmless; a real one is not). */
const SECRET_FIELDS: readonly ComposeFieldName[] = ['number', 'csc', 'swipe', 'accountNumber'];

const collect = (value: string, previous: string[]) => [...previous, value];

let stdinLines: string[] | null = null;
function stdinLine(): string {
  stdinLines ??= readFileSync(0, 'utf8').split(/\r?\n/);
  const line = stdinLines.shift();
  if (line === undefined || line === '') throw usage('stdin ran out of lines for the fields given as "-".');
  return line;
}

/** The --field options as compose fields; values from stdin or env where asked. */
export function parseFields(specs: string[], env = process.env): ComposeFields {
  const fields: ComposeFields = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw usage(`--field takes NAME=VALUE, not "${spec.slice(0, 20)}".`);
    const name = FIELD_NAMES[spec.slice(0, eq).toLowerCase()];
    if (!name)
      throw usage(`Unknown field "${spec.slice(0, eq)}"; use number, exp, csc, swipe, account or routing.`);
    const raw = spec.slice(eq + 1);
    let value: string;
    if (raw === '-') value = stdinLine();
    else if (raw.startsWith('env:')) {
      const v = env[raw.slice(4)];
      if (v === undefined || v === '') throw usage(`The environment variable ${raw.slice(4)} is not set.`);
      value = v;
    } else {
      value = raw;
      if (SECRET_FIELDS.includes(name)) {
        process.stderr.write(
          `mkm: warning: the ${spec.slice(0, eq)} given on the command line stays in shell history and shows in ps; use ${spec.slice(0, eq)}=- (stdin) or ${spec.slice(0, eq)}=env:VAR\n`,
        );
      }
    }
    fields[name] = value;
  }
  if (Object.keys(fields).length === 0) throw usage('Give at least one --field.');
  return fields;
}

const composeText = (r: ComposeReport) =>
  r.findings.map((f) => `${f.level.padEnd(7)} ${f.field.padEnd(13)} ${f.message}`).join('\n');

const partsText = (parts: EnvelopePart[]) =>
  parts
    .map((p) => `${p.name.padEnd(10)} ${p.value}\n           ${p.bytes} bytes. ${p.explanation}`)
    .join('\n');

function legText(leg: RoundTripLeg): string {
  const head = `${leg.endpoint}: ${leg.error ? `FAILED ${leg.error.message} [${leg.error.code}]` : leg.ok ? 'all fields match' : 'MISMATCH'}`;
  const rows = leg.rows.map((r) =>
    [
      `  ${r.ok ? 'ok  ' : 'BAD '} ${r.gatewayName.padEnd(26)} ${r.masked}`,
      `received ${r.received ? 'yes' : `no${r.error ? ` (${r.error})` : ''}`}`,
      `length ${r.length ?? '-'}/${r.expectedLength}`,
      r.expectedLast4 !== null ? `last4 ${r.last4 ?? '-'}` : '',
      r.luhnOk !== null ? `luhn ${r.luhnOk ? 'ok' : 'bad'}` : '',
      r.abaOk !== null ? `aba ${r.abaOk ? 'ok' : 'bad'}` : '',
      r.tagMatch !== null ? `hash ${r.tagMatch ? 'match' : 'DIFFERS'}` : '',
    ]
      .filter(Boolean)
      .join('  '),
  );
  return [head, ...rows].join('\n');
}

const verifyText = (r: ConsoleVerifyResult) =>
  [r.cse && legText(r.cse), r.secure && legText(r.secure)].filter(Boolean).join('\n');

function failedLeg(r: ConsoleVerifyResult): boolean {
  return [r.cse, r.secure].some((leg) => leg !== null && !leg.ok);
}

const batchText = (s: BatchSummary) =>
  [
    `${s.status}: ${s.rows} rows, ${s.encrypted} encrypted, ${s.failed} with errors, ${batchSpeedText(s)}`,
    ...s.failures.map((f) => `  row ${f.row}${f.ref ? ` (${f.ref})` : ''}: ${problemsText(f.problems)}`),
    s.failures.length < s.failed
      ? `  (${s.failed - s.failures.length} more failed rows are in the output file)`
      : '',
    s.outputPath ? `output ${s.outputPath}${s.partial ? ' (PARTIAL: not every row is in it)' : ''}` : '',
    s.error ? `error ${s.error.message} [${s.error.code}]` : '',
  ]
    .filter(Boolean)
    .join('\n');

function readEnvelope(source: string) {
  let text: string;
  try {
    text = source === '-' ? readFileSync(0, 'utf8') : readFileSync(source, 'utf8');
  } catch {
    throw new MkmError('IO_ERROR', `Could not read ${source}.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw usage('The envelope must be JSON: {"set_id", "iv"?, "ciphertext", "mac"}.');
  }
  // A whole `message` result (from mkm console message --json) carries the envelope inside it.
  const obj = json as { envelope?: unknown };
  return (obj && typeof obj === 'object' && 'envelope' in obj ? obj.envelope : json) as {
    set_id: string;
    iv?: string;
    ciphertext: string;
    mac: string;
  };
}

const install: CommandInstaller = (group, context) => {
  group
    .command('compose')
    .description('check a test payload: Luhn, ABA, expiration, CVV length (values are never printed)')
    .option('--field <name=value>', FIELD_HELP, collect, [])
    .action(async (opts: { field: string[] }) => {
      const ctx = context();
      const r = await ctx.call('console.compose', { fields: parseFields(opts.field) });
      ctx.out.result(r, () => composeText(r));
      if (!r.ok) process.exitCode = 1;
    });

  group
    .command('encrypt')
    .description("client-side encryption with the profile's pinned gateway key: the merchant's JSON body")
    .addOption(
      new Option(
        '--scheme <scheme>',
        "paytrace (PKCS#1 v1.5) or oaep (OAEP-SHA256); default: the profile's",
      ).choices(['paytrace', 'oaep']),
    )
    .option('--field <name=value>', FIELD_HELP, collect, [])
    .option('--profile <profile>', 'the gateway profile')
    .option('--amount <amount>', 'the sale amount in the body', '1.00')
    .option('--curl', 'print the curl command instead of the JSON body')
    .option(
      '--override-scheme',
      'encrypt with a --scheme the gateway cannot decrypt (recorded in the audit log)',
    )
    .action(
      async (opts: {
        scheme?: 'paytrace' | 'oaep';
        field: string[];
        profile?: string;
        amount: string;
        curl?: boolean;
        overrideScheme?: boolean;
      }) => {
        const ctx = context();
        const profile = await resolveProfile(ctx, opts.profile);
        const r = await ctx.call('console.encrypt', {
          profileId: profile.id,
          fields: parseFields(opts.field),
          amount: opts.amount,
          ...(opts.scheme ? { scheme: opts.scheme } : {}),
          ...(opts.overrideScheme ? { overrideScheme: true } : {}),
        });
        ctx.out.result(r, () =>
          [
            opts.curl ? r.curl : r.bodyJson,
            ...[...r.notes, `key ${r.key.spkiSha256} (${r.key.modulusBits} bits) ${r.padding}`].map(
              (n) => `# ${n}`,
            ),
          ].join('\n'),
        );
      },
    );

  group
    .command('message')
    .description('seal a message with the current key set inside the token and show the envelope parts')
    .option('--text <text>', 'the message (UTF-8); "-" reads stdin', '{"ping":true}')
    .addOption(
      new Option(
        '--iv <source>',
        "token: a fresh IV from the token (default); set: the set's own IV",
      ).choices(['token', 'set']),
    )
    .option('--profile <profile>', 'the gateway profile')
    .option('--check', 'decrypt the envelope again with the same set, in this process')
    .action(async (opts: { text: string; iv?: 'token' | 'set'; profile?: string; check?: boolean }) => {
      const ctx = context();
      const profile = await resolveProfile(ctx, opts.profile);
      await loggedInSlot(ctx);
      const text = opts.text === '-' ? readFileSync(0, 'utf8') : opts.text;
      const r = await ctx.call('console.encryptMessage', {
        profileId: profile.id,
        text,
        ...(opts.iv ? { ivSource: opts.iv } : {}),
      });
      let checked: string | null = null;
      if (opts.check) {
        const d = await ctx.call('console.decryptMessage', { profileId: profile.id, envelope: r.envelope });
        checked = d.text === text ? 'decrypts back to the same text: MAC ok' : 'DECRYPTS TO OTHER TEXT';
      }
      ctx.out.result(checked ? { ...r, check: checked } : r, () =>
        [
          JSON.stringify(r.envelope),
          partsText(r.parts),
          `set ${r.setId} under ${r.wrappingKeyId}, expires ${r.expiresAt}`,
          ...r.notes,
          ...(checked ? [checked] : []),
        ].join('\n'),
      );
    });

  group
    .command('decrypt')
    .description(
      'check the MAC and decrypt a key-rolling envelope with the current set in the token (a set lives only in the process that received it)',
    )
    .option('--in <file>', 'the envelope JSON {"set_id","iv"?,"ciphertext","mac"}; "-" reads stdin', '-')
    .option('--profile <profile>', 'the gateway profile')
    .action(async (opts: { in: string; profile?: string }) => {
      const ctx = context();
      const profile = await resolveProfile(ctx, opts.profile);
      await loggedInSlot(ctx);
      const envelope = readEnvelope(opts.in);
      const r = await ctx.call('console.decryptMessage', { profileId: profile.id, envelope });
      ctx.out.result(r, () => `MAC ok under set ${r.setId}\n${r.text}`);
    });

  group
    .command('verify')
    .description('round trip to /v1/encryption/verify and /v1/secure/verify_payload, field by field')
    .option('--field <name=value>', FIELD_HELP, collect, [])
    .option('--profile <profile>', 'the gateway profile')
    .addOption(
      new Option('--leg <leg...>', 'which endpoints (default: what the profile uses)').choices([
        'cse',
        'secure',
      ]),
    )
    .addOption(
      new Option('--scheme <scheme>', "the CSE leg's scheme; default: the profile's").choices([
        'paytrace',
        'oaep',
      ]),
    )
    .option('--override-scheme', 'send a --scheme the gateway does not advertise (recorded in the audit log)')
    .action(
      async (opts: {
        field: string[];
        profile?: string;
        leg?: ('cse' | 'secure')[];
        scheme?: 'paytrace' | 'oaep';
        overrideScheme?: boolean;
      }) => {
        const ctx = context();
        const profile = await resolveProfile(ctx, opts.profile);
        const fields = parseFields(opts.field);
        if (profile.keyRolling && (opts.leg?.includes('secure') ?? true)) await loggedInSlot(ctx);
        const r = await ctx.call('console.verify', {
          profileId: profile.id,
          fields,
          ...(opts.leg ? { legs: opts.leg } : {}),
          ...(opts.scheme ? { scheme: opts.scheme } : {}),
          ...(opts.overrideScheme ? { overrideScheme: true } : {}),
        });
        ctx.out.result(r, () => verifyText(r));
        if (failedLeg(r)) process.exitCode = 1;
      },
    );

  group
    .command('batch')
    .description(
      'encrypt every row of a CSV file (header: number, exp, csc, swipe, account_number, routing_number, id)',
    )
    .requiredOption('--in <file>', 'the input CSV')
    .requiredOption('--out <file>', 'the output CSV (ciphertexts and per-row errors, never clear values)')
    .addOption(
      new Option(
        '--scheme <scheme>',
        "paytrace, oaep (gateway key) or aes (a token AES key); default: the one the gateway's key advertises",
      ).choices(['paytrace', 'oaep', 'aes']),
    )
    .option('--profile <profile>', 'the gateway profile (paytrace, oaep)')
    .option('--key <key>', 'the token AES-256 key, id or label (aes)')
    .option('--overwrite', 'replace an existing output file')
    .option(
      '--override-scheme',
      'encrypt with a --scheme the gateway cannot decrypt (recorded in the audit log)',
    )
    .action(
      async (opts: {
        in: string;
        out: string;
        scheme?: 'paytrace' | 'oaep' | 'aes';
        profile?: string;
        key?: string;
        overwrite?: boolean;
        overrideScheme?: boolean;
      }) => {
        const ctx = context();
        const operationId = `batch-${randomUUID()}`;
        let target: { profileId: string } | { keyId: string; slotId: number };
        if (opts.scheme === 'aes') {
          if (!opts.key) throw usage('--scheme aes needs --key (a token AES-256 key).');
          const slot = await loggedInSlot(ctx);
          const [key] = await resolveKey(ctx, slot.slotId, opts.key, ['secret']);
          target = { keyId: key!.id, slotId: slot.slotId };
        } else {
          target = { profileId: (await resolveProfile(ctx, opts.profile)).id };
        }
        // Without --scheme, the one the gateway's pinned key advertises: a batch it can decrypt.
        const scheme =
          opts.scheme ??
          ('profileId' in target &&
          (await ctx.call('console.profileState', target)).key?.padding === 'RSAES-OAEP-SHA256'
            ? 'oaep'
            : 'paytrace');
        const events = (await ctx.app()).events;
        const tty = process.stderr.isTTY;
        const stop = events.subscribe((name, payload) => {
          if (name !== 'progress') return;
          const p = payload as {
            operationId: string;
            fraction: number | null;
            message: string;
            phase: string;
          };
          // Waiting on the token is printed for every command (mkm.cli.ts).
          if (p.operationId !== operationId || TOKEN_WAIT_PHASES.includes(p.phase)) return;
          const pct = p.fraction === null ? '' : `${Math.round(p.fraction * 100)}% `;
          process.stderr.write(tty ? `\r\x1b[K${pct}${p.message}` : `${pct}${p.message}\n`);
          if (tty && p.phase !== 'running' && p.phase !== 'started') process.stderr.write('\n');
        });
        const onSigint = () => {
          process.stderr.write(tty ? '\ncancelling…\n' : 'cancelling…\n');
          void ctx.call('console.batchCancel', { operationId }).catch(() => undefined);
        };
        process.on('SIGINT', onSigint);
        try {
          const r = await ctx.call('console.batchStart', {
            operationId,
            inPath: resolve(opts.in),
            outPath: resolve(opts.out),
            scheme,
            ...target,
            ...(opts.overwrite ? { overwrite: true } : {}),
            ...(opts.overrideScheme ? { overrideScheme: true } : {}),
          });
          ctx.out.result(r, () => batchText(r));
          if (r.status !== 'done') process.exitCode = 1;
        } finally {
          process.off('SIGINT', onSigint);
          stop();
        }
      },
    );
};

export const commands: CommandModule['commands'] = { console: install };
