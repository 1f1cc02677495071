import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, LOG_FILE, verifyAuditLog } from '../electron/audit/audit-log.nodejs';
import { HmacSealer } from '../electron/audit/software-sealer.nodejs';

/**
 * The audit log's two budgets: append >= 10,000 entries/s (durable: one fdatasync per batch)
 * and verify of 100,000 entries <= 2 s (chain, canonical form, every seal's MAC). Each figure
 * is printed beside `sha256sum` hashing the same file bytes in the same run: hashing every byte
 * once is the floor any verifier has to pay, so the ratio shows what parsing and checking
 * add, independent of how fast this machine is today.
 * Run: npx tsx bench/audit.bench.ts
 */

const APPEND_ENTRIES = 20_000;
const VERIFY_ENTRIES = 100_000;
const APPEND_TARGET = 10_000;
const VERIFY_TARGET_S = 2;

const actor = { osUser: 'bench', token: { serial: '8f3b2c1d9e0a4b5c', label: 'merchant-a' } };
const sealer = new HmacSealer();

function entry(i: number) {
  return {
    action: i % 3 === 0 ? 'key.rotate' : 'key.use',
    result: i % 50 === 0 ? ('KEY_NOT_FOUND' as const) : ('ok' as const),
    key: { id: (i % 97).toString(16).padStart(8, '0'), kcv: 'a1b2c3' },
    details: { merchant: `m-${i % 13}`, gateway: 'sandbox', set: i, pin: '1234' },
  };
}

function sha256sumSeconds(file: string): number {
  const start = performance.now();
  execFileSync('sha256sum', [file], { stdio: ['ignore', 'pipe', 'ignore'] });
  return (performance.now() - start) / 1000;
}

async function fill(dir: string, count: number): Promise<number> {
  const log = await AuditLog.open({ dir, actor, sealer, sealEvery: { entries: 1000, ms: 60_000 } });
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    log.append(entry(i));
    // Real callers append from event handlers, not one 100k-long loop: let the sealer run.
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  await log.flush();
  const seconds = (performance.now() - start) / 1000;
  await log.close();
  return seconds;
}

const root = mkdtempSync(join(tmpdir(), 'mkm-audit-bench-'));
try {
  // Warm-up so JIT and first-file costs land outside the timed runs.
  await fill(join(root, 'warm'), 2000);

  const appendDir = join(root, 'append');
  const appendS = await fill(appendDir, APPEND_ENTRIES);
  const appendFile = join(appendDir, LOG_FILE);
  const appendRate = APPEND_ENTRIES / appendS;
  const appendBaseline = sha256sumSeconds(appendFile);
  console.log(
    `audit append ${APPEND_ENTRIES} entries (durable, sealed every 1000): ${appendS.toFixed(3)} s = ` +
      `${Math.round(appendRate)} entries/s; sha256sum same bytes (${statSync(appendFile).size} B): ` +
      `${appendBaseline.toFixed(3)} s; ratio ${(appendS / appendBaseline).toFixed(1)}x; ` +
      `target >= ${APPEND_TARGET}/s ${appendRate >= APPEND_TARGET ? 'MET' : 'NOT MET'}`,
  );

  const verifyDir = join(root, 'verify');
  await fill(verifyDir, VERIFY_ENTRIES - 2); // + audit.start and audit.stop
  const verifyFile = join(verifyDir, LOG_FILE);
  const start = performance.now();
  const report = await verifyAuditLog({ dir: verifyDir, sealer });
  const verifyS = (performance.now() - start) / 1000;
  if (!report.ok || report.entries !== VERIFY_ENTRIES || !report.sealsVerified || report.unsealed !== 0) {
    throw new Error(`verify did not accept the intact log: ${JSON.stringify(report)}`);
  }
  const verifyBaseline = sha256sumSeconds(verifyFile);
  console.log(
    `audit verify ${report.entries} entries (${report.seals} seals MAC-checked, ${statSync(verifyFile).size} B): ` +
      `${verifyS.toFixed(3)} s; sha256sum same bytes: ${verifyBaseline.toFixed(3)} s; ` +
      `ratio ${(verifyS / verifyBaseline).toFixed(1)}x; target <= ${VERIFY_TARGET_S} s ` +
      `${verifyS <= VERIFY_TARGET_S ? 'MET' : 'NOT MET'}`,
  );

  // Without the token (seals checked against the chain only), and the forensic mode that also
  // parses every field of every line.
  for (const deep of [false, true]) {
    const t0 = performance.now();
    const unchecked = await verifyAuditLog({ dir: verifyDir, deep });
    const s = (performance.now() - t0) / 1000;
    if (!unchecked.ok || unchecked.sealsVerified) throw new Error('verify without a sealer misreported');
    console.log(
      `audit verify ${unchecked.entries} entries without the token${deep ? ', deep (every line parsed)' : ''}: ` +
        `${s.toFixed(3)} s; sha256sum same bytes: ${verifyBaseline.toFixed(3)} s; ` +
        `ratio ${(s / verifyBaseline).toFixed(1)}x; target <= ${VERIFY_TARGET_S} s ` +
        `${s <= VERIFY_TARGET_S ? 'MET' : 'NOT MET'}${deep ? ' (deep is not held to the target)' : ''}`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
