import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApp, type App } from '../../../electron/core/app.nodejs';
import { createLogger } from '../../../electron/core/logger.nodejs';
import { dataPaths } from '../../../electron/core/paths.nodejs';
import type { SenderInfo } from '../../../electron/core/registry.nodejs';
import { contract } from '../../../shared/contract.std';
import type { Envelope } from '../../../shared/contract-kit.std';
import { ERROR_SENTENCES } from '../../../shared/errors.std';
import { createFaultyModule, faultyModuleAvailable, type FaultyModule } from '../../helpers/faulty-module';
import { filesUnder } from '../../helpers/scan';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { ALL_FAULTS } from './setup';

/**
 * IPC fuzzing at scale (issue 14 point 3): every channel of the contract, called through the
 * real registry of a real app (browser mode's main over the faulty module and SoftHSM2), with
 * arguments derived from each channel's own schema: valid ones, near-valid ones (one field
 * replaced by a hostile value, removed, or joined by an unknown one) and hostile ones, from the
 * CLI and from an authenticated page, with the token present and then pulled mid-run. Known
 * secrets are fed in where a secret goes; afterwards no answer, log line or file holds them.
 */
const available = faultyModuleAvailable();
const CALLS = Number(process.env.MKM_FUZZ_CALLS ?? (ALL_FAULTS ? 50_000 : 10_000));
/** Calls that pass validation do real work on the token: a few per channel and phase keep the run short. */
const VALID_PER_CHANNEL = ALL_FAULTS ? 6 : 2;
const CHUNK = 500;
const SEED = Number(process.env.MKM_FUZZ_SEED ?? 0x14f022);

const USER_PIN = '73916428';
const SO_PIN = '58203917';
const PAN = '4111111111111111';
const CVV = '9317';
const PASSWORD = 'fuzz-gw-Passw0rd!';
const SECRETS = [USER_PIN, SO_PIN, PAN, CVV, PASSWORD];

const ORIGIN = 'http://127.0.0.1:4999';
const SENDERS: { name: string; sender: SenderInfo; trusted: boolean }[] = [
  { name: 'cli', sender: { transport: 'cli' }, trusted: true },
  { name: 'page', sender: { transport: 'websocket', origin: ORIGIN, authenticated: true }, trusted: true },
  {
    name: 'foreign page',
    sender: { transport: 'websocket', origin: 'http://evil.test', authenticated: true },
    trusted: false,
  },
  {
    name: 'unauthenticated',
    sender: { transport: 'websocket', origin: ORIGIN, authenticated: false },
    trusted: false,
  },
];

/**
 * Channels whose valid calls would wreck the run's own preconditions (a logged-in token with its
 * user PIN): tokens.initToken with the real SO PIN would erase the token, and tokens.changePin /
 * tokens.initUserPin would replace the PIN the run logs in with. Those are rewritten to a
 * harmless form (the SO PIN made wrong, the new PIN kept the same), never skipped outright.
 */
function keepPreconditions(channel: string, request: unknown): unknown {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) return request;
  const r = { ...(request as Record<string, unknown>) };
  if (channel === 'tokens.initToken' && r.soPin === SO_PIN) r.soPin = SO_PIN + '0';
  if (channel === 'tokens.changePin' && r.oldPin === USER_PIN) r.newPin = USER_PIN;
  if (channel === 'tokens.initUserPin' && r.soPin === SO_PIN) r.userPin = USER_PIN;
  return r;
}

/**
 * The run is root on a shared machine: a path the CLI names is written to. Every absolute path
 * outside the run's scratch folder is moved into it (its name kept), so a fuzzed path can only
 * touch the scratch folder; relative and empty ones are left as they are (refused by mkm).
 */
function keepToScratch(request: unknown, scratch: string): unknown {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) return request;
  const r = { ...(request as Record<string, unknown>) };
  for (const key of ['path', 'inPath', 'outPath']) {
    const v = r[key];
    if (typeof v === 'string' && isAbsolute(v) && !v.startsWith(scratch + '/')) {
      r[key] = join(scratch, basename(v) || 'x.csv');
    }
  }
  // A fuzzed profile reaches no gateway but a local port that refuses at once.
  if (typeof r.baseUrl === 'string') {
    try {
      const url = new URL(r.baseUrl);
      if (url.hostname !== '127.0.0.1') r.baseUrl = `${url.protocol}//127.0.0.1:9${url.pathname}`;
    } catch {
      // Not a URL: mkm refuses it.
    }
  }
  return r;
}

// ------------------------------------------------------------------ arbitraries from the schemas

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
};

/** Values the run knows to be live (ids learned from answers), by field name. */
const pools: Record<string, Set<string | number>> = {
  slotId: new Set(),
  id: new Set(),
  keyId: new Set(),
  profileId: new Set(['fuzz-profile']),
  versionId: new Set(),
  fileId: new Set(),
  operationId: new Set(['fuzz-op']),
  ref: new Set(),
  ckaId: new Set(),
};
const POOL_ALIASES: Record<string, string> = { signingKeyId: 'id', keyIds: 'id', fingerprint: 'fp' };

/** Where a secret goes: its field names, and the secrets fed into them (with other values). */
const SECRET_FIELDS: Record<string, string[]> = {
  pin: [USER_PIN],
  oldPin: [USER_PIN],
  newPin: [USER_PIN],
  soPin: [SO_PIN],
  userPin: [USER_PIN],
  password: [PASSWORD],
  number: [PAN],
  csc: [CVV],
  accountNumber: [PAN],
  swipe: [`%B${PAN}^FUZZ/TEST^2912101${CVV}?`],
  text: [`{"number":"${PAN}","csc":"${CVV}"}`],
  input: [PAN, `${PAN}=2912101${CVV}`, `{"card":"${PAN}","cvv":"${CVV}"}`],
  content: [`id,card_number,exp,cvv\n1,${PAN},12/30,${CVV}\n`],
};

/** Built once per shape: compiling a pattern into an arbitrary costs more than using it. */
const stringArbs = new Map<string, fc.Arbitrary<string>>();
function stringArb(s: JsonSchema): fc.Arbitrary<string> {
  const key = JSON.stringify(s);
  let arb = stringArbs.get(key);
  if (!arb) stringArbs.set(key, (arb = makeStringArb(s)));
  return arb;
}

function makeStringArb(s: JsonSchema): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 64, 64);
  // One character class repeated (`^[\x20-\x7e]+$`) with a minimum length: characters of the
  // class up to the length wanted. stringMatching alone makes short strings, and filtering them
  // for a TR-31 block's 16 characters never ends.
  const repeated = s.pattern && /^\^(\[[^\]]+\])[+*]\$$/.exec(s.pattern);
  if (repeated && min > 1) {
    const unit = fc.stringMatching(new RegExp(`^${repeated[1]}$`, 'u'));
    return fc.string({ unit, minLength: min, maxLength: Math.max(min, max) });
  }
  if (s.pattern) {
    try {
      const re = new RegExp(s.pattern, 'u');
      return fc.stringMatching(re).filter((v) => v.length >= min && v.length <= (s.maxLength ?? Infinity));
    } catch {
      // A pattern JavaScript cannot compile without the schema's own flags: plain strings.
    }
  }
  if (s.format === 'uri') return fc.webUrl().map((u) => u.replace(/^http:/, 'https:'));
  if (s.format === 'uuid') return fc.uuid();
  return fc.string({ minLength: min, maxLength: Math.max(min, max) });
}

function schemaArb(s: JsonSchema, field = ''): fc.Arbitrary<unknown> {
  const secrets = SECRET_FIELDS[field];
  const pool = pools[POOL_ALIASES[field] ?? field];
  const base = baseArb(s);
  const choices: fc.Arbitrary<unknown>[] = [base];
  if (secrets) choices.push(fc.constantFrom(...secrets));
  // Live values at the time the request is made (the pools grow as answers come back).
  if (pool?.size && s.type !== 'array') choices.push(fc.constantFrom(...pool));
  if (pool?.size && s.type === 'array') choices.push(fc.constantFrom(...pool).map((v) => [v]));
  if (field === 'path' || field === 'inPath' || field === 'outPath') {
    choices.push(fc.constantFrom(...scratchPaths()));
  }
  return choices.length === 1 ? base : fc.oneof(...choices);
}

function baseArb(s: JsonSchema): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.anyOf) return fc.oneof(...s.anyOf.map((a) => baseArb(a)));
  switch (s.type) {
    case 'object': {
      const props = s.properties ?? {};
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = schemaArb(v, k);
      return fc.record(model, { requiredKeys: (s.required ?? []).filter((k) => k in props) });
    }
    case 'array':
      return fc.array(schemaArb(s.items ?? {}), {
        minLength: s.minItems ?? 0,
        maxLength: Math.min(s.maxItems ?? 4, 4),
      });
    case 'string':
      return stringArb(s);
    case 'integer':
      return fc.integer({ min: Math.max(s.minimum ?? -1e6, -1e6), max: Math.min(s.maximum ?? 1e6, 1e6) });
    case 'number':
      return fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return fc.constant(undefined);
  }
}

function deep(levels: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

/** Anything a hostile page could send in a field or as the whole request. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({
    maxDepth: 3,
    withNullPrototype: true,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withTypedArray: true,
  }),
  fc.constantFrom(
    -1,
    0,
    NaN,
    Infinity,
    -Infinity,
    2 ** 53,
    1e308,
    -0,
    '',
    ' ',
    '\u0000',
    '\u202e',
    '../../../../etc/passwd',
    '/dev/zero',
    '%s%n%x',
    '${7*7}',
    '<script>alert(1)</script>',
    "' OR 1=1 --",
    'x'.repeat(70_000),
    'x'.repeat(1_048_577),
    '\ud800',
    '__proto__',
    'constructor',
    JSON.parse('{"__proto__": {"polluted": true}}') as unknown,
    { constructor: { prototype: { polluted: true } } },
    deep(40),
    Array.from({ length: 3000 }, (_, i) => i),
  ),
  fc.string({ maxLength: 40 }),
  fc.integer(),
);

interface Plan {
  channel: string;
  schema: z.ZodType;
  json: JsonSchema;
}

const plans: Plan[] = Object.entries(contract).flatMap(([ns, methods]) =>
  Object.entries(methods).map(([m, def]) => {
    const schema = (def as { request: z.ZodType }).request;
    const json = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as JsonSchema;
    return { channel: `${ns}.${m}`, schema, json };
  }),
);

/** A valid-shaped request with one thing wrong: a field hostile, missing, or one too many. */
function nearValid(json: JsonSchema): fc.Arbitrary<unknown> {
  const valid = baseArb(json);
  if (json.type !== 'object') return fc.oneof(valid, hostile);
  const keys = Object.keys(json.properties ?? {});
  return fc.tuple(valid, fc.nat(), hostile, fc.integer({ min: 0, max: 2 })).map(([v, i, bad, how]) => {
    const r = { ...(v as Record<string, unknown>) };
    const key = keys.length ? keys[i % keys.length]! : 'surprise';
    if (how === 0) r[key] = bad;
    else if (how === 1) delete r[key];
    else r[`x${i % 7}`] = bad;
    return r;
  });
}

let scratch = '';
const scratchPaths = () => [
  join(scratch, 'cards.csv'),
  join(scratch, 'out.csv'),
  join(scratch, 'bundle.zip'),
  join(scratch, 'missing', 'out.csv'),
  join(scratch, 'cards.csv.partial'),
  scratch,
];

// -------------------------------------------------------------------------- leak detection

/** The forms a secret leaks in: as typed, hex and base64 of its bytes (as test/helpers/scan.ts). */
function secretForms(secret: string): { form: string; re: RegExp }[] {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return [
    secret,
    Buffer.from(secret).toString('hex'),
    Buffer.from(secret).toString('base64').replace(/=+$/, ''),
  ].map((form) => ({
    form,
    // A 4-digit CVV is also a count (a JSON number) or part of a hex id or a UUID: only alone in
    // text does it count.
    re: new RegExp(`(?<![0-9A-Za-z:-])${esc(form)}(?![0-9A-Za-z-])`),
  }));
}
const FORMS = SECRETS.flatMap((s) => secretForms(s).map((f) => ({ secret: s, ...f })));

/** Each leak with its surroundings (the secret itself masked), so a failure says where it was. */
function leaksIn(text: string): string[] {
  return FORMS.flatMap((f) => {
    const m = f.re.exec(text);
    if (!m) return [];
    const around = text.slice(Math.max(0, m.index - 60), m.index + f.form.length + 20);
    return [
      `${f.secret.slice(0, 2)}… as ${f.form.slice(0, 4)}… in "${around.split(f.form).join('<secret>')}"`,
    ];
  });
}

// ----------------------------------------------------------------------------------- the run

let hsm: SoftHsmToken;
let faulty: FaultyModule;
let app: App;
let dataDir: string;
const problems: string[] = [];
const leaks: string[] = [];
const counters = {
  calls: 0,
  crashes: 0,
  rejections: 0,
  valid: 0,
  ok: 0,
  byCode: {} as Record<string, number>,
};
const onCrash = (e: unknown) => {
  counters.crashes++;
  problems.push(`uncaughtException: ${String(e)}`);
};
const onRejection = (e: unknown) => {
  counters.rejections++;
  problems.push(`unhandledRejection: ${String(e)}`);
};

beforeAll(async () => {
  if (!available) return;
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onRejection);
  hsm = createSoftHsmToken({ label: 'fuzz', userPin: USER_PIN, soPin: SO_PIN });
  faulty = createFaultyModule();
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-fuzz-'));
  scratch = mkdtempSync(join(tmpdir(), 'mkm-fuzz-work-'));
  mkdirSync(join(scratch, 'sub'));
  writeFileSync(join(scratch, 'cards.csv'), `id,card_number,exp,cvv\n1,${PAN},12/30,${CVV}\n`);
  const paths = dataPaths(dataDir);
  app = createApp({
    mode: 'browser',
    dataDir,
    moduleOverride: faulty.path,
    isTrustedSender: (s) =>
      s.transport === 'cli' || (s.transport === 'websocket' && s.authenticated && s.origin === ORIGIN),
    // The real logger, at its most talkative, into the data folder: scanned at the end.
    logger: createLogger({ name: 'main', file: paths.logFile, level: 'debug', stderrLevel: 'silent' }),
    watchSlots: false,
  });
  pools.slotId!.add(hsm.slotId);
  const login = await app.registry.dispatch(
    'tokens.login',
    { slotId: hsm.slotId, pin: USER_PIN },
    { transport: 'cli' },
  );
  expect(login.ok).toBe(true);
  const aes = await app.registry.dispatch(
    'keys.generate',
    { slotId: hsm.slotId, type: 'aes-256', label: 'fuzz-aes', purpose: 'data' },
    { transport: 'cli' },
  );
  const rsa = await app.registry.dispatch(
    'keys.generate',
    { slotId: hsm.slotId, type: 'rsa-2048', label: 'fuzz-rsa', purpose: 'signing' },
    { transport: 'cli' },
  );
  for (const e of [aes, rsa]) learn(e);
});

afterAll(async () => {
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onRejection);
  await app?.close();
  faulty?.cleanup();
  hsm?.cleanup();
  for (const d of [dataDir, scratch]) if (d) rmSync(d, { recursive: true, force: true });
});

/** Ids found in answers join the pools, so later calls reach live objects. */
function learn(envelope: Envelope): void {
  if (!envelope.ok) return;
  const walk = (v: unknown, depth: number) => {
    if (depth > 4 || typeof v !== 'object' || v === null) return;
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'string' && x.length <= 128) {
        if (k === 'id' && /^[0-9a-f]+$/i.test(x)) pools.id!.add(x);
        if (k === 'id' && /^[0-9a-f-]{36}$/.test(x)) pools.versionId!.add(x);
        if (k === 'logicalKeyId' || k === 'name') pools.ref!.add(x);
        if (k === 'ckaId') pools.ckaId!.add(x);
        if (k === 'fileId') pools.fileId!.add(x);
        if (k === 'profileId') pools.profileId!.add(x);
      }
      walk(x, depth + 1);
    }
  };
  walk(envelope.result, 0);
}

function checkEnvelope(channel: string, request: unknown, envelope: unknown, trusted: boolean): void {
  const e = envelope as Envelope;
  const fail = (why: string) => {
    if (problems.length < 20) problems.push(`${channel}: ${why} ← ${safeJson(request).slice(0, 300)}`);
  };
  if (typeof e !== 'object' || e === null) return fail('not an envelope');
  if (e.ok === true) {
    if (!('result' in e)) fail('ok without a result');
    if (!trusted) fail('an untrusted sender got a result');
    counters.ok++;
  } else if (e.ok === false) {
    const code = e.error?.code;
    if (typeof code !== 'string' || !(code in ERROR_SENTENCES))
      fail(`an error code mkm does not know: ${code}`);
    if (typeof e.error?.message !== 'string') fail('an error without a message');
    if (code === 'INTERNAL') fail(`an untyped error: ${e.error.message}`);
    counters.byCode[code] = (counters.byCode[code] ?? 0) + 1;
  } else fail(`not an envelope: ${safeJson(e).slice(0, 200)}`);
  const found = leaksIn(safeJson(e));
  if (found.length) leaks.push(`${channel}: ${found.join(', ')}`);
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

describe.skipIf(!available)('IPC fuzzing over every channel', () => {
  it(
    `answers ${CALLS} fuzzed calls with envelopes, the token present then pulled, and leaks nothing`,
    async () => {
      const validUsed = new Map<string, number>();
      let arbs: { valid: fc.Arbitrary<unknown>; near: fc.Arbitrary<unknown> }[] = [];
      const rng = fc.sample(fc.nat(), { numRuns: 1, seed: SEED })[0]!;
      let calls = 0;
      // One fast-check stream per phase: each element a channel, a sender and a request.
      const step = fc
        .tuple(fc.nat({ max: plans.length - 1 }), fc.nat({ max: 99 }), fc.nat({ max: 2 }))
        .chain(([i, senderRoll, kind]) => {
          const plan = plans[i]!;
          // Built once per chunk and channel: the pools they draw live values from grow between chunks.
          const built = (arbs[i] ??= { valid: baseArb(plan.json), near: nearValid(plan.json) });
          const request = kind === 0 ? built.valid : kind === 1 ? built.near : hostile;
          return request.map((r) => ({ plan, senderRoll, request: r }));
        });
      const phases: { name: string; share: number; before?: () => Promise<void> | void }[] = [
        { name: 'token present', share: 0.5 },
        { name: 'token pulled', share: 0.3, before: () => faulty.removeToken() },
        {
          name: 'token back',
          share: 0.2,
          before: async () => {
            faulty.insertToken();
            await app.registry.dispatch(
              'tokens.login',
              { slotId: hsm.slotId, pin: USER_PIN },
              { transport: 'cli' },
            );
          },
        },
      ];
      const codesByPhase: Record<string, Record<string, number>> = {};
      for (const [p, phase] of phases.entries()) {
        await phase.before?.();
        const before = { ...counters.byCode };
        const n = p === phases.length - 1 ? CALLS - calls : Math.round(CALLS * phase.share);
        // Sampled in chunks, so ids learned from answers feed the next requests.
        for (let done = 0; done < n; done += CHUNK) {
          arbs = [];
          const items = fc.sample(step, {
            numRuns: Math.min(CHUNK, n - done),
            seed: SEED + rng + p * 1_000_003 + done,
          });
          // A few calls in flight at once, as a busy page makes them.
          for (let at = 0; at < items.length; at += 4) {
            await Promise.all(
              items.slice(at, at + 4).map(async ({ plan, senderRoll, request: raw }) => {
                const s =
                  senderRoll < 45
                    ? SENDERS[0]!
                    : senderRoll < 95
                      ? SENDERS[1]!
                      : SENDERS[2 + (senderRoll % 2)]!;
                let request = keepToScratch(keepPreconditions(plan.channel, raw), scratch);
                if (plan.schema.safeParse(request).success) {
                  const used = validUsed.get(`${phase.name}:${plan.channel}`) ?? 0;
                  if (used >= VALID_PER_CHANNEL) {
                    // Over this channel's budget of real work: sent near-valid instead.
                    request = {
                      ...(typeof request === 'object' && request ? request : {}),
                      overBudget: true,
                    };
                  } else {
                    validUsed.set(`${phase.name}:${plan.channel}`, used + 1);
                    counters.valid++;
                  }
                }
                calls++;
                let envelope: unknown;
                try {
                  envelope = await app.registry.dispatch(plan.channel, request, s.sender);
                } catch (error) {
                  problems.push(`${plan.channel}: dispatch threw ${String(error)}`);
                  return;
                }
                checkEnvelope(plan.channel, request, envelope, s.trusted);
                if (!s.trusted && (envelope as Envelope).ok === false) {
                  const code = (envelope as { error: { code: string } }).error.code;
                  if (code !== 'FORBIDDEN_SENDER')
                    problems.push(`${plan.channel}: untrusted sender got ${code}`);
                }
                learn(envelope as Envelope);
              }),
            );
          }
        }
        codesByPhase[phase.name] = Object.fromEntries(
          Object.entries(counters.byCode)
            .map(([c, n]) => [c, n - (before[c] ?? 0)] as const)
            .filter(([, n]) => n > 0),
        );
      }
      counters.calls = calls;
      // The pull was seen: calls that reached the token were told it is gone.
      const pulled = codesByPhase['token pulled'] ?? {};
      console.log(`answers while the token was pulled: ${JSON.stringify(pulled)}`);
      const gone = [
        'TOKEN_REMOVED',
        'TOKEN_NOT_PRESENT',
        'TOKEN_CONNECTION_LOST',
        'SLOT_NOT_FOUND',
        'NOT_LOGGED_IN',
      ];
      expect(
        gone.reduce((n, c) => n + (pulled[c] ?? 0), 0),
        JSON.stringify(pulled),
      ).toBeGreaterThan(0);
      // Every channel was reached with a valid request at least once.
      const never = plans
        .map((p) => p.channel)
        .filter((c) => !phases.some((ph) => validUsed.has(`${ph.name}:${c}`)));
      // Work still running in the background (batches, seals) ends before the files are read.
      await app.audit.verify().catch(() => undefined);
      const logFile = dataPaths(dataDir).logFile;
      for (const file of [...filesUnder(dataDir), ...filesUnder(scratch)]) {
        if (file === join(scratch, 'cards.csv')) continue; // the input the run wrote itself
        const found = leaksIn(readFileSync(file).toString('latin1'));
        if (found.length) leaks.push(`${file.replace(dataDir, '<data>')}: ${found.join(', ')}`);
      }
      expect(readFileSync(logFile, 'utf8').length).toBeGreaterThan(0);
      const compass = `fuzz calls made ${calls}, crashes ${counters.crashes}, unhandled rejections ${counters.rejections}, secrets leaked ${leaks.length}`;
      console.log(`${compass} (${counters.valid} valid, ${counters.ok} ok; ${plans.length} channels)`);
      const tally = process.env.MKM_FAULT_TALLY;
      if (tally) appendFileSync(tally, JSON.stringify({ fuzz: compass }) + '\n');
      if (never.length) console.log(`channels never called with a valid request: ${never.join(', ')}`);
      expect(problems).toEqual([]);
      expect(leaks).toEqual([]);
      expect(counters.crashes).toBe(0);
      expect(counters.rejections).toBe(0);
      expect(calls).toBe(CALLS);
      expect(never.length, `channels never called validly: ${never.join(', ')}`).toBeLessThan(
        plans.length / 4,
      );
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
    ALL_FAULTS ? 300_000 : 60_000,
  );
});
