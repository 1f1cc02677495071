import { createDecipheriv } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { App } from '../../../electron/core/app.nodejs';
import { WAITING_NOTICE_MS } from '../../../electron/hsm/client.nodejs';
import type { BatchSummary } from '../../../shared/contract/console.std';
import type { AppStatus, LifecycleKeyView } from '../../../shared/contract.std';
import type { LifecycleReconcileReport } from '../../../shared/contract/lifecycle.std';
import type { Envelope } from '../../../shared/contract-kit.std';
import {
  createFaultyModule,
  everyCall,
  faultyModuleAvailable,
  spreadCalls,
  type FaultyModule,
} from '../../helpers/faulty-module';
import { tornFiles } from '../../helpers/real-token';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { ALL_FAULTS, FAULT_KINDS, expectTypedError, faultCase, openFaultyApp } from './setup';

/**
 * The app (browser mode's main, its registry and channels) over the faulty module: a console
 * batch with a token AES key failing at its first, middle and last call of every kind; a token
 * that stalls in the middle of a batch, a rotation or a key generation (progress and status say
 * it waits on the token, main keeps answering, a cancel abandons the call at once and restarts
 * the host; unattended, the call's bound does); a token pulled and put back mid-batch
 * (the admin is asked to log in again, and the batch runs whole afterwards).
 */
const available = faultyModuleAvailable();
const KEY_HEX = '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4';
const ROWS = 1100;

let hsm: SoftHsmToken;
let faulty: FaultyModule;
let app: App;
let dataDir: string;
let work: string;
let keyId: string;
let input: string;

const call = (channel: string, request?: unknown): Promise<Envelope> =>
  app.registry.dispatch(channel, request, { transport: 'cli' });
const ok = async <T>(channel: string, request?: unknown): Promise<T> => {
  const envelope = await call(channel, request);
  if (!envelope.ok) throw new Error(`${channel}: ${envelope.error.code} ${envelope.error.message}`);
  return envelope.result as T;
};
const login = () => ok('tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });

function luhn(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

/** Every row of a batch output, checked: whole CSV, and every "ok" row decrypts to its card. */
function checkOutput(file: string): number {
  const rows = parse(readFileSync(file), { columns: true }) as Record<string, string>[];
  for (const row of rows) {
    expect(['ok', 'error']).toContain(row.status);
    if (row.status !== 'ok') continue;
    const decipher = createDecipheriv(
      'aes-256-cbc',
      Buffer.from(KEY_HEX, 'hex'),
      Buffer.from(row.iv_hex!, 'hex'),
    );
    const clear = Buffer.concat([decipher.update(Buffer.from(row.ciphertext_hex!, 'hex')), decipher.final()]);
    const fields = JSON.parse(clear.toString('utf8')) as { number: string };
    expect(fields.number).toBe(luhn(`4${String(row.row).padStart(14, '0')}`));
  }
  return rows.length;
}

let runs = 0;
const batch = (extra: Record<string, unknown> = {}) =>
  call('console.batchStart', {
    inPath: input,
    outPath: join(work, `out-${++runs}.csv`),
    scheme: 'aes',
    keyId,
    ...extra,
  });

/** The exchange cases' signing key, and what a clean export asks of the token. */
let signingKeyId = '';
let signer = '';
const exportPackage = () =>
  call('exchange.export', { kind: 'announcement', signingKeyId, keyIds: [keyId], algorithm: 'pss' });
/** The package verifies against the signer fingerprint read out by its owner. */
const verifies = async (text: string) => {
  const v = await ok<{ verified: boolean }>('exchange.verify', { package: text, signer });
  expect(v.verified).toBe(true);
};

async function checkAppState(): Promise<void> {
  const report = await app.audit.verify();
  expect(report.firstBad ?? null).toBeNull();
  expect(report.ok).toBe(true);
  expect(tornFiles(dataDir)).toEqual([]);
}

const learned = available
  ? await (async () => {
      hsm = createSoftHsmToken({ label: 'faults-app' });
      faulty = createFaultyModule();
      dataDir = mkdtempSync(join(tmpdir(), 'mkm-faults-app-'));
      work = mkdtempSync(join(tmpdir(), 'mkm-faults-app-work-'));
      app = openFaultyApp({ dataDir, faulty });
      await login();
      keyId = (
        await app.tokens.call('importKey', {
          slotId: hsm.slotId,
          type: 'aes-256',
          label: 'faults-batch-aes',
          purpose: 'data',
          keyHex: KEY_HEX,
        })
      ).id;
      input = join(work, 'cards.csv');
      const lines = ['id,card_number,exp,cvv'];
      for (let i = 1; i <= ROWS; i++)
        lines.push(`${i},${luhn(`4${String(i).padStart(14, '0')}`)},12/3${i % 10},123`);
      writeFileSync(input, lines.join('\n') + '\n');
      // The login's background work (the audit key) is done before the counts start.
      await app.audit.verify();
      faulty.clear();
      const clean = await batch();
      expect(clean.ok && (clean.result as BatchSummary).status).toBe('done');
      return { batch: faulty.stats().calls, exchange: await learnExchange() };
    })()
  : null;

afterAll(async () => {
  vi.restoreAllMocks();
  await app?.close();
  faulty?.cleanup();
  hsm?.cleanup();
  for (const d of [dataDir, work]) if (d) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!available)('console batch (AES, token key) with the token failing', () => {
  it('the clean batch encrypted every row on the token', () => {
    expect(learned!.batch.C_Encrypt).toBeGreaterThanOrEqual(ROWS);
    expect(checkOutput(join(work, 'out-1.csv'))).toBe(ROWS);
  });

  const cases = learned
    ? spreadCalls(learned.batch, {
        inner: ALL_FAULTS ? 3 : 0,
        // The app's audit log seals on a timer (C_SignInit/C_Sign), not the batch: audit-seal.test.ts.
        skip: ['C_SignInit', 'C_Sign'],
      })
    : [];
  // npm test: the batch's own crypto calls; test:faults: every function it calls.
  const picked = ALL_FAULTS
    ? cases
    : cases.filter((c) => ['C_Encrypt', 'C_EncryptInit', 'C_GenerateRandom'].includes(c.fn));
  picked.forEach(({ fn, call: nth }, n) => {
    const kind = FAULT_KINDS[(n + 1) % FAULT_KINDS.length]!;
    it(`batch: ${fn} #${nth} → ${kind}`, () =>
      faultCase('batch', `${fn}#${nth} ${kind}`, async () => {
        faulty.control([`${fn} ${nth} ${kind}`]);
        const envelope = await batch();
        const outPath = join(work, `out-${runs}.csv`);
        expect(faulty.stats().fired).toMatchObject([{ fn, call: nth }]);
        if (!envelope.ok) expectTypedError(envelope.error);
        else {
          const summary = envelope.result as BatchSummary;
          if (summary.status === 'done') {
            // A failure the service could absorb: then every row is there and right.
            expect(checkOutput(outPath)).toBe(ROWS);
          } else {
            expect(summary.status).toBe('failed');
            expectTypedError(summary.error);
            // Never the final name for an unfinished batch; the partial output is whole.
            expect(existsSync(outPath)).toBe(false);
            expect(summary.outputPath).toBe(`${outPath}.partial`);
            expect(checkOutput(summary.outputPath)).toBe(summary.rows);
          }
        }
        faulty.clear();
        await login();
        const again = await batch();
        expect(again.ok && (again.result as BatchSummary).status, JSON.stringify(again)).toBe('done');
        expect(checkOutput(join(work, `out-${runs}.csv`))).toBe(ROWS);
        await checkAppState();
      }));
  });
});

/**
 * The host client's timers (the per-call bound, the "waiting on the token" notice) are armed
 * through the global setTimeout (see electron/hsm/host/timers.std.ts); these capture the ones
 * of the given delays so the test decides when they pass, instead of waiting for them.
 */
function captureTimers(delays: number[]) {
  const armed = new Map<object, { ms: number; callback: () => void }>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const set = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
    callback: () => void,
    delay?: number,
    ...rest: unknown[]
  ) => {
    if (delay === undefined || !delays.includes(delay)) return realSet(callback, delay, ...rest);
    const handle = {};
    armed.set(handle, { ms: delay, callback });
    return handle;
  }) as typeof setTimeout);
  const clear = vi.spyOn(globalThis, 'clearTimeout').mockImplementation(((handle: unknown) => {
    if (handle && armed.has(handle as object)) armed.delete(handle as object);
    else realClear(handle as Parameters<typeof clearTimeout>[0]);
  }) as typeof clearTimeout);
  const take = (ms: number) => {
    const due = [...armed].filter(([, t]) => t.ms === ms);
    for (const [handle] of due) armed.delete(handle);
    return due.map(([, t]) => t.callback);
  };
  return {
    armed: (ms: number) => [...armed.values()].filter((t) => t.ms === ms).length,
    /** The timers of `ms` armed so far pass now; later ones are still captured. */
    fire(ms: number) {
      for (const cb of take(ms)) cb();
    },
    restore() {
      set.mockRestore();
      clear.mockRestore();
    },
  };
}

const CALL_BOUND_MS = 30_000; // HsmClient's default per-call timeout

/** What the app told its UI while a case ran: progress per operation, connection changes. */
function listen() {
  const progress: { operationId: string; phase: string; message: string }[] = [];
  const connection: string[] = [];
  const stop = app.events.subscribe((name, payload) => {
    if (name === 'progress') progress.push(payload as (typeof progress)[number]);
    if (name === 'tokens.connection') connection.push((payload as { state: string }).state);
  });
  return {
    progress: (operationId: string) => progress.filter((p) => p.operationId === operationId),
    connection,
    stop,
  };
}

/**
 * The token stalls inside an operation's call (the faulty module sleeps for ten minutes there):
 * once the client's notice passes, the operation's progress and the app status say it waits on
 * the token, and main answers other calls meanwhile.
 */
async function expectWaiting(
  timers: ReturnType<typeof captureTimers>,
  heard: ReturnType<typeof listen>,
  expected: { operationId: string; channel: string; method: string },
): Promise<void> {
  await vi.waitFor(() => expect(faulty.stats().fired).toMatchObject([{ action: 'stall' }]), {
    timeout: 30_000,
    interval: 20,
  });
  const before = await ok<AppStatus>('app.status');
  expect(before.hsm.waiting).toEqual([]);
  expect(heard.progress(expected.operationId).some((p) => p.phase === 'waiting')).toBe(false);
  // The stuck call's notice (and its bound) are armed; the notice passes.
  await vi.waitFor(() => expect(timers.armed(WAITING_NOTICE_MS)).toBeGreaterThan(0));
  expect(timers.armed(CALL_BOUND_MS)).toBeGreaterThan(0);
  timers.fire(WAITING_NOTICE_MS);
  const waiting = heard.progress(expected.operationId).filter((p) => p.phase === 'waiting');
  expect(waiting.length).toBeGreaterThan(0);
  expect(waiting[0]!.message).toMatch(
    new RegExp(`^Waiting on the token: no answer to ${expected.method} for \\d+ s`),
  );
  const status = await ok<AppStatus>('app.status');
  expect(status.hsm.waiting).toEqual([
    {
      operationId: expected.operationId,
      channel: expected.channel,
      method: expected.method,
      waitingMs: expect.any(Number),
    },
  ]);
  // Nothing since covers it (a heartbeat's "Generating… 3 s", a batch's row count).
  expect(heard.progress(expected.operationId).at(-1)!.phase).toBe('waiting');
}

/** The stalled host was killed (never answered) and a new one runs the module. */
async function expectHostRestarted(heard: ReturnType<typeof listen>, stalledPid: number | null) {
  await vi.waitFor(() => expect(heard.connection).toEqual(['lost', 'restored']), {
    timeout: 30_000,
    interval: 20,
  });
  faulty.clear();
  await login();
  expect(faulty.stats().pid).not.toBe(stalledPid);
  expect((await ok<AppStatus>('app.status')).hsm.waiting).toEqual([]);
}

/**
 * One stall case: the token stalls at `rule` inside the operation `start` begins; once main says
 * the operation waits on the token, `end` makes the call end (a cancel, or the bound passing)
 * and checks what the operation answered; then the stalled host must have been replaced, and
 * the admin logs in again.
 */
async function stallCase(
  rule: string,
  expected: { operationId: string; channel: string; method: string },
  start: () => Promise<Envelope>,
  end: (running: Promise<Envelope>, timers: ReturnType<typeof captureTimers>) => Promise<void>,
): Promise<void> {
  faulty.control([rule]);
  const timers = captureTimers([WAITING_NOTICE_MS, CALL_BOUND_MS]);
  const heard = listen();
  try {
    const running = start();
    await expectWaiting(timers, heard, expected);
    const stalledPid = faulty.stats().pid;
    await end(running, timers);
    await expectHostRestarted(heard, stalledPid);
  } finally {
    heard.stop();
    timers.restore();
  }
}

describe.skipIf(!available)('a token that stalls, a token pulled and put back', () => {
  it('stall mid-batch, cancelled: the progress says it waits on the token, cancel abandons the call at once, the host is restarted', () =>
    faultCase('stall', 'C_Encrypt#600 stall, cancel', async () => {
      const operationId = 'stalled-batch';
      await stallCase(
        'C_Encrypt 600 stall 600000',
        { operationId, channel: 'console.batchStart', method: 'encryptBatch' },
        () => batch({ operationId }),
        async (running) => {
          expect(await ok('console.batchCancel', { operationId })).toEqual({ cancelled: true });
          // Ended by the cancel: the call's bound never passed (it is captured and never fired).
          const envelope = await running;
          expect(envelope.ok, JSON.stringify(envelope)).toBe(true);
          const summary = (envelope as { result: BatchSummary }).result;
          expect(summary.status).toBe('cancelled');
          expect(summary.error, JSON.stringify(summary.error)).toMatchObject({ code: 'CANCELLED' });
          expect(existsSync(join(work, `out-${runs}.csv`))).toBe(false);
          expect(checkOutput(summary.outputPath)).toBe(summary.rows);
          expect(summary.rows).toBeLessThan(ROWS);
        },
      );
      const again = await batch();
      expect(again.ok && (again.result as BatchSummary).status, JSON.stringify(again)).toBe('done');
      expect(checkOutput(join(work, `out-${runs}.csv`))).toBe(ROWS);
      await checkAppState();
    }));

  it('stall mid-rotation, cancelled: the rotation stops with CANCELLED, the host is restarted, the journal finishes it after the login', () =>
    faultCase('stall', 'C_GenerateKey#1 stall in a rotation, cancel', async () => {
      const created = await ok<{ logicalKey: LifecycleKeyView }>('lifecycle.create', {
        name: 'stall-rotation',
        purpose: 'data',
      });
      const keyRef = created.logicalKey.id;
      const unmanaged = async () =>
        (await ok<LifecycleReconcileReport>('lifecycle.reconcile', {})).unmanaged.map((o) => o.ckaId).sort();
      const unmanagedBefore = await unmanaged();
      const operationId = 'stalled-rotation';
      await stallCase(
        'C_GenerateKey 1 stall 600000',
        { operationId, channel: 'lifecycle.rotate', method: 'generateKey' },
        () => call('lifecycle.rotate', { ref: keyRef, operationId }),
        async (running) => {
          expect(await ok('tokens.cancel', { operationId })).toEqual({ cancelled: true });
          const envelope = await running;
          expect(envelope.ok).toBe(false);
          expect(!envelope.ok && envelope.error.code).toBe('CANCELLED');
        },
      );
      // The login resumes the journaled rotation (or the journal abandons it): either way it ends.
      let key!: LifecycleKeyView;
      await vi.waitFor(
        async () => {
          key = (await ok<LifecycleKeyView[]>('lifecycle.list', {})).find((k) => k.id === keyRef)!;
          expect(key.rotating).toBe(false);
        },
        { timeout: 30_000, interval: 50 },
      );
      expect(key.versions.filter((v) => v.primary)).toHaveLength(1);
      // No object left behind on the token, none of the key's versions missing from it.
      const report = await ok<LifecycleReconcileReport>('lifecycle.reconcile', {});
      expect(report.missing).toEqual([]);
      expect(await unmanaged()).toEqual(unmanagedBefore);
      const rotated = await ok<{ version: { version: number; primary: boolean } }>('lifecycle.rotate', {
        ref: keyRef,
      });
      expect(rotated.version.primary).toBe(true);
      await checkAppState();
    }));

  it('stall in a key generation, cancelled: the generation stops with CANCELLED, no key is made, the host is restarted', () =>
    faultCase('stall', 'C_GenerateKey#1 stall in keys.generate, cancel', async () => {
      const operationId = 'stalled-generate';
      const label = 'stall-generated';
      await stallCase(
        'C_GenerateKey 1 stall 600000',
        { operationId, channel: 'keys.generate', method: 'generateKey' },
        () =>
          call('keys.generate', { slotId: hsm.slotId, type: 'aes-256', label, purpose: 'data', operationId }),
        async (running) => {
          expect(await ok('tokens.cancel', { operationId })).toEqual({ cancelled: true });
          const envelope = await running;
          expect(!envelope.ok && envelope.error.code).toBe('CANCELLED');
        },
      );
      const objects = await ok<{ label: string }[]>('keys.list', { slotId: hsm.slotId });
      expect(objects.map((o) => o.label)).not.toContain(label);
      await checkAppState();
    }));

  it('stall mid-batch, nobody cancels: main keeps answering, the host is restarted once the bound passes', () =>
    faultCase('stall', 'C_Encrypt#600 stall, bound', async () => {
      const operationId = 'stalled-unattended';
      await stallCase(
        'C_Encrypt 600 stall 600000',
        { operationId, channel: 'console.batchStart', method: 'encryptBatch' },
        () => batch({ operationId }),
        async (running, timers) => {
          // The stalled call's bound passes.
          timers.fire(CALL_BOUND_MS);
          const envelope = await running;
          expect(envelope.ok, JSON.stringify(envelope)).toBe(true);
          const summary = (envelope as { result: BatchSummary }).result;
          expect(summary.status).toBe('failed');
          expect(summary.error!.code).toMatch(/TIMEOUT|TOKEN_CONNECTION_LOST/);
          expect(existsSync(join(work, `out-${runs}.csv`))).toBe(false);
          expect(checkOutput(summary.outputPath)).toBe(summary.rows);
        },
      );
      const again = await batch();
      expect(again.ok && (again.result as BatchSummary).status, JSON.stringify(again)).toBe('done');
      expect(checkOutput(join(work, `out-${runs}.csv`))).toBe(ROWS);
      await checkAppState();
    }));

  it('pulled and put back mid-batch: the batch stops cleanly, the token asks for a login again, then the batch runs whole', () =>
    faultCase('re-insert', 'C_Encrypt#700 replug', async () => {
      faulty.control(['C_Encrypt 700 replug']);
      const envelope = await batch();
      expect(faulty.stats().fired).toMatchObject([{ fn: 'C_Encrypt', call: 700, action: 'replug' }]);
      expect(envelope.ok).toBe(true);
      const summary = (envelope as { result: BatchSummary }).result;
      expect(summary.status).toBe('failed');
      expect(expectTypedError(summary.error)).toMatch(/TOKEN_REMOVED|SESSION_CLOSED|NOT_LOGGED_IN/);
      expect(checkOutput(summary.outputPath)).toBe(summary.rows);
      // The token is back (its slot lists it), its session and login are gone.
      const slots =
        await ok<{ slotId: number; token: unknown; session: { loggedIn: boolean } }[]>('tokens.list');
      const slot = slots.find((s) => s.slotId === hsm.slotId)!;
      expect(slot.token).not.toBeNull();
      expect(slot.session.loggedIn).toBe(false);
      const refused = await batch();
      expect(refused.ok ? (refused.result as BatchSummary).error?.code : refused.error.code).toMatch(
        /NOT_LOGGED_IN|SESSION_CLOSED/,
      );
      await login();
      const again = await batch();
      expect(again.ok && (again.result as BatchSummary).status, JSON.stringify(again)).toBe('done');
      expect(checkOutput(join(work, `out-${runs}.csv`))).toBe(ROWS);
      await checkAppState();
    }));
});

async function learnExchange(): Promise<Record<string, number>> {
  signingKeyId = (
    await ok<{ id: string }>('keys.generate', {
      slotId: hsm.slotId,
      type: 'rsa-2048',
      label: 'faults-signer',
      purpose: 'signing',
    })
  ).id;
  // The first export probes the token's capabilities (the gate before signing) and caches them:
  // its calls are not an export's, so the calls are learned from the second.
  const warm = await exportPackage();
  if (!warm.ok) throw new Error(warm.error.code);
  faulty.clear();
  const clean = await exportPackage();
  if (!clean.ok) throw new Error(clean.error.code);
  const made = clean.result as { text: string; summary: { signer: { spkiSha256: string } } };
  signer = made.summary.signer.spkiSha256;
  const calls = faulty.stats().calls;
  await verifies(made.text);
  return calls;
}

const exchangeCalls = learned?.exchange ?? null;

describe.skipIf(!available)('exchange package signature with the token failing at every call', () => {
  it('the clean export signed on the token', () => {
    // One for the package (the app's audit log may have sealed meanwhile, also with C_Sign).
    expect(exchangeCalls!.C_Sign).toBeGreaterThanOrEqual(1);
  });

  const cases = exchangeCalls
    ? everyCall(exchangeCalls, { limit: ALL_FAULTS ? undefined : 6, prefer: ['C_Sign', 'C_SignInit'] })
    : [];
  cases.forEach(({ fn, call: nth }, n) => {
    const kind = FAULT_KINDS[(n + 2) % FAULT_KINDS.length]!;
    it(`exchange: ${fn} #${nth} → ${kind}`, () =>
      faultCase('exchange signature', `${fn}#${nth} ${kind}`, async () => {
        faulty.control([`${fn} ${nth} ${kind}`]);
        const envelope = await exportPackage();
        expect(faulty.stats().fired).toMatchObject([{ fn, call: nth }]);
        // Either a typed refusal or a package that verifies: never a package that does not.
        if (envelope.ok) await verifies((envelope.result as { text: string }).text);
        else expectTypedError(envelope.error);
        faulty.clear();
        await login();
        const again = await exportPackage();
        expect(again.ok).toBe(true);
        await verifies((again as { result: { text: string } }).result.text);
        await checkAppState();
      }));
  });
});
