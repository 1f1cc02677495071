import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyUsageService } from '../../../electron/lifecycle/usage.nodejs';

/**
 * Two processes (the app and a CLI run, say) flushing into the same data folder at the same
 * moment: each flush re-reads the counts file and adds its batch, under a lock across processes,
 * so no batch is written over. Two real child processes flush many times at once; the totals on
 * disk are the sum of every use both counted.
 */
const GATEWAY = 'ef'.repeat(32);
const ROUNDS = 150;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-usage-flush-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function child(go: string) {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'usage-flush-child.ts')],
    {
      env: {
        ...process.env,
        MKM_DIR: join(dir, 'keys'),
        MKM_GO: go,
        MKM_ROUNDS: String(ROUNDS),
        MKM_GATEWAY: GATEWAY,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let text = '';
  proc.stdout.on('data', (d: Buffer) => (text += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', () => text.includes('ready\n') && resolve());
    proc.on('exit', () => reject(new Error(`child exited early: ${text}`)));
  });
  const done = new Promise<{ uses: number; busy: number }>((resolve, reject) =>
    proc.on('exit', (code) => {
      const m = /done (\d+) (\d+)/.exec(text);
      if (code !== 0 || !m) reject(new Error(`child failed (${code}): ${text}`));
      else resolve({ uses: Number(m[1]), busy: Number(m[2]) });
    }),
  );
  return { ready, done };
}

describe('key use counts flushed by two processes at once', () => {
  it('lose no batch: the totals are the sum of both processes’ uses', async () => {
    const go = join(dir, 'go');
    const children = [child(go), child(go)];
    await Promise.all(children.map((c) => c.ready));
    writeFileSync(go, '');
    const results = await Promise.all(children.map((c) => c.done));
    const sum = results.reduce((n, r) => n + r.uses, 0);
    expect(sum).toBe(2 * ((ROUNDS * (ROUNDS + 1)) / 2));

    const usage = new KeyUsageService({ inventoryDir: join(dir, 'keys'), audit: () => {}, flushMs: 0 });
    expect(usage.entryOf({ versionId: 'v-shared' })).toMatchObject({
      total: sum,
      operations: { encrypt: sum },
    });
    expect(usage.entryOf({ gatewayKey: GATEWAY })).toMatchObject({
      total: sum,
      operations: { 'cse-encrypt': sum },
    });
  }, 120_000);
});
