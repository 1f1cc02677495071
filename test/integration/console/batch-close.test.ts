import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchSummary } from '../../../shared/contract/console.std';
import { softHsmAvailable } from '../../helpers/softhsm';
import { createConsoleRig, type ConsoleRig } from './setup';

/**
 * Quitting the app while a batch runs: the console cancels it before the token host stops, so
 * the call still answers (cancelled) and the partial output is closed under its .partial name.
 */
let rig: ConsoleRig;
let dir: string;

beforeAll(async () => {
  rig = await createConsoleRig({ label: 'console-close' });
  dir = mkdtempSync(join(tmpdir(), 'mkm-console-close-'));
}, 120_000);
afterAll(async () => {
  await rig?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.runIf(softHsmAvailable())('console batch on app close', () => {
  it('closing the app cancels a running batch and keeps a well-formed partial output', async () => {
    const input = join(dir, 'long.csv');
    const output = join(dir, 'long.out.csv');
    writeFileSync(
      input,
      'id,number,exp\n' + Array.from({ length: 60_000 }, (_, i) => `r${i},4111111111111111,12/30`).join('\n'),
    );
    let closing: Promise<void> | null = null;
    const stop = rig.app.events.subscribe((name, payload) => {
      const p = payload as { operationId: string; phase: string };
      if (name === 'progress' && p.operationId === 'quit' && p.phase === 'running' && !closing)
        closing = rig.closeApp();
    });
    const summary = await rig.ok<BatchSummary>('console.batchStart', {
      operationId: 'quit',
      inPath: input,
      outPath: output,
      scheme: 'oaep',
      profileId: rig.profileId,
    });
    stop();
    await closing;
    expect(closing).not.toBeNull();
    expect(summary).toMatchObject({ status: 'cancelled', partial: true, outputPath: `${output}.partial` });
    expect(existsSync(output)).toBe(false);
    const lines = readFileSync(summary.outputPath, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(summary.rows + 1);
    expect(lines.join('\n')).not.toContain('4111111111111111');
  }, 180_000);
});
