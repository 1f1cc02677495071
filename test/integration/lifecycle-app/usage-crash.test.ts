import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyUsageService } from '../../../electron/lifecycle/usage.nodejs';
import type { AuditEntryView } from '../../../shared/contract.std';
import { createSoftHsmToken, softHsmAvailable, type SoftHsmToken } from '../../helpers/softhsm';
import { openApp } from '../../helpers/app';

/**
 * A crash loses at most one flush interval of counts: a child process runs the real app, encrypts
 * under a managed data key, its flush timer fires, it encrypts more, and is SIGKILLed before
 * the next tick. What was flushed is on disk (and in the audit log); what came after is the only
 * loss, at most one interval's uses.
 */
let hsm: SoftHsmToken;
let dataDir: string;
let filesDir: string;
let key: { versionId: string; ckaId: string };

function appOn() {
  return openApp(dataDir, hsm.modulePath, { usageFlushMs: 0 });
}

async function dispatch<T>(app: ReturnType<typeof appOn>, channel: string, request: unknown): Promise<T> {
  const e = await app.registry.dispatch(channel, request, { transport: 'cli' });
  if (!e.ok) throw new Error(`${channel}: ${e.error.code} ${e.error.message}`);
  return e.result as T;
}

/** Sends a command and waits for its answer. */
function ask(child: ChildProcessWithoutNullStreams, output: { text: string }, command: string) {
  const answer = `${command.split(' ')[0]} done\n`;
  const seen = output.text.split(answer).length - 1;
  child.stdin.write(`${command}\n`);
  return until(child, output, (t) => t.split(answer).length - 1 > seen);
}

function until(
  child: ChildProcessWithoutNullStreams,
  output: { text: string },
  done: (text: string) => boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (done(output.text)) {
        child.stdout.off('data', check);
        child.off('exit', exited);
        resolve();
      }
    };
    const exited = () => reject(new Error(`child exited: ${output.text}`));
    child.stdout.on('data', check);
    child.on('exit', exited);
    check();
  });
}

describe.skipIf(!softHsmAvailable())('key use counts survive a crash within one flush interval', () => {
  beforeAll(async () => {
    hsm = createSoftHsmToken({ label: 'usage-crash' });
    dataDir = mkdtempSync(join(tmpdir(), 'mkm-usage-crash-'));
    filesDir = mkdtempSync(join(tmpdir(), 'mkm-usage-crash-files-'));
    const app = appOn();
    await dispatch(app, 'tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });
    const made = await dispatch<{ version: { id: string; ckaId: string } }>(app, 'lifecycle.create', {
      name: 'crash data',
      purpose: 'data',
    });
    key = { versionId: made.version.id, ckaId: made.version.ckaId };
    await app.close();
  }, 120_000);
  afterAll(() => {
    hsm?.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (filesDir) rmSync(filesDir, { recursive: true, force: true });
  });

  it('SIGKILL after a flush: the flushed uses are kept, only the uses since are lost', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'usage-child.ts')], {
      env: {
        ...hsm.env,
        MKM_DATA: dataDir,
        MKM_FILES: filesDir,
        MKM_MODULE: hsm.modulePath,
        MKM_SLOT: String(hsm.slotId),
        MKM_PIN: hsm.userPin,
        MKM_KEY: key.ckaId,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const output = { text: '' };
    child.stdout.on('data', (d: Buffer) => (output.text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output.text += d.toString()));
    const exit = new Promise<string | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    await until(child, output, (t) => t.includes('ready\n'));
    await ask(child, output, 'use 7');
    await ask(child, output, 'tick');
    // The next interval: these uses are pending when the process dies.
    await ask(child, output, 'use 4');
    child.kill('SIGKILL');
    expect(await exit).toBe('SIGKILL');

    const usage = new KeyUsageService({ inventoryDir: join(dataDir, 'keys'), audit: () => {}, flushMs: 0 });
    // 7 flushed, 4 pending at the kill: at most one interval (the 4) is lost.
    expect(usage.usesOf(key.versionId)).toBe(7);
    expect(usage.entryOf({ versionId: key.versionId })).toMatchObject({
      total: 7,
      operations: { encrypt: 7 },
      lastOperation: 'encrypt',
    });
    usage.close();

    // The flush is in the audit log; the app opened again counts on from 7.
    const app = appOn();
    try {
      const { entries } = await dispatch<{ entries: AuditEntryView[] }>(app, 'audit.query', {
        filter: { action: 'key.usage.flush' },
      });
      expect(entries.map((e) => e.details!.versions)).toContainEqual([
        { versionId: key.versionId, uses: 7, operations: { encrypt: 7 } },
      ]);
      const keys = await dispatch<{ versions: { id: string; useCount: number }[] }[]>(
        app,
        'lifecycle.list',
        {},
      );
      expect(keys[0]!.versions.find((v) => v.id === key.versionId)!.useCount).toBe(7);
    } finally {
      await app.close();
    }
  }, 120_000);
});
