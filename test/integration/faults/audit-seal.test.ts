import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog, verifyAuditLog } from '../../../electron/audit/audit-log.nodejs';
import { createTokenSealer } from '../../../electron/audit/token-sealer.nodejs';
import { everyCall, faultyModuleAvailable } from '../../helpers/faulty-module';
import { tornFiles } from '../../helpers/real-token';
import { ALL_FAULTS, FAULT_KINDS, expectTypedError, faultCase, openBench, type Bench } from './setup';

/**
 * An audit seal (HMAC over the entries since the last seal, made by the token's non-extractable
 * audit key) with the token failing at every call the seal makes. The entries are written
 * whatever the token does; the seal either lands whole or not at all, and once the token is
 * back the next seal covers the backlog: the chain and every seal verify, no entry lost.
 */
const available = faultyModuleAvailable();

let bench: Bench;
let log: AuditLog;
let appended = 0;
let dir: string;
let sealer: ReturnType<typeof createTokenSealer>;

const append = (n: number) => {
  for (let i = 0; i < n; i++) log.append({ action: 'key.use', result: 'ok', details: { i: appended++ } });
};

const learned = available
  ? await (async () => {
      bench = await openBench('faults-seal');
      const { slotId } = bench.hsm;
      const key = await bench.tokens.call('generateKey', {
        slotId,
        type: 'hmac-256',
        label: 'mkm-audit-key',
        purpose: 'audit',
      });
      sealer = createTokenSealer({
        keyRef: { id: key.id, kcv: key.kcv!.kcv },
        // The app's sealer, one hmacSign per message (electron/audit/app-audit.nodejs.ts).
        call: async (_op, id, data) => {
          const macs: string[] = [];
          for (const d of data) macs.push((await bench.tokens.call('hmacSign', { slotId, id, data: d })).mac);
          return macs;
        },
      });
      dir = join(bench.root, 'audit-sealed');
      // Seals only when told, so the call counts are the seal's own.
      log = await AuditLog.open({
        dir,
        actor: { osUser: 'admin', token: { serial: bench.hsm.serial, label: bench.hsm.label } },
        sealer,
        sealEvery: { entries: 1e9, ms: 1e9 },
        durable: false,
      });
      append(20);
      await log.flush();
      bench.faulty.clear();
      await log.seal();
      return bench.faulty.stats().calls;
    })()
  : null;

afterAll(async () => {
  await log?.close();
  await bench?.close();
});

describe.skipIf(!available)('audit seal with the token failing at every call', () => {
  it('the clean seal signed on the token', () => {
    expect(learned!.C_Sign ?? 0).toBeGreaterThan(0);
  });

  const calls = learned
    ? everyCall(learned, { limit: ALL_FAULTS ? undefined : 6, prefer: ['C_Sign', 'C_SignInit'] })
    : [];
  calls.forEach(({ fn, call }, n) => {
    const kind = FAULT_KINDS[(n + 3) % FAULT_KINDS.length]!;
    it(`seal: ${fn} #${call} → ${kind}`, () =>
      faultCase('audit seal', `${fn}#${call} ${kind}`, async () => {
        append(20);
        await log.flush();
        bench.faulty.control([`${fn} ${call} ${kind}`]);
        const sealed = await log.seal().then(
          () => null,
          (e: unknown) => e,
        );
        expect(bench.faulty.stats().fired).toMatchObject([{ fn, call }]);
        if (sealed) expectTypedError(sealed);
        // Entries go on being written while the token is out.
        append(5);
        await log.flush();

        await bench.recover();
        await log.seal();
        await log.flush();
        const report = await verifyAuditLog({ dir, sealer });
        expect(report.firstBad ?? null).toBeNull();
        expect(report).toMatchObject({ ok: true, sealsVerified: true, unsealed: 0 });
        // Every entry appended is there (plus the log's own start and sealer entries).
        expect(report.entries).toBeGreaterThanOrEqual(appended);
        expect(tornFiles(bench.root)).toEqual([]);
      }));
  });
});
