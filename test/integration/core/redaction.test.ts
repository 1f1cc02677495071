import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startBrowserMode, type BrowserMode } from '../../../electron/browser/server.nodejs';
import { createLogger } from '../../../electron/core/logger.nodejs';
import { dataPaths } from '../../../electron/core/paths.nodejs';
import { EventBus, Registry } from '../../../electron/core/registry.nodejs';
import { channel } from '../../../shared/contract-kit.std';
import { connect } from '../../helpers/ws-client';
import { filesUnder, findSecrets } from '../../helpers/scan';

/**
 * Drives card numbers, CVVs, PINs and key bytes through the code paths that log and answer
 * errors (IPC validation, refused links, failing handlers, the CLI), then reads every file the
 * run wrote. None of the secrets may be there, in clear, hex or base64.
 */
const PAN = '4111111111111111';
const PAN_SPACED = '5555 5555 5555 4444';
const CVV = '737';
const PIN = '90210417';
const ACCOUNT = '000123456789';
const KEY_HEX = '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4';
const SECRET = 'redaction-test-secret-0123456789';
const root = join(import.meta.dirname, '../../..');

let dataDir: string;
let mode: BrowserMode;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-redact-'));
  process.env.MKM_LOG_LEVEL = 'debug';
  mode = await startBrowserMode({
    dataDir,
    rendererDir: join(root, 'test/fixtures/renderer'),
    secret: SECRET,
  });
});

afterAll(async () => {
  delete process.env.MKM_LOG_LEVEL;
  await mode?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('secrets never reach a file', () => {
  it('IPC: invalid values are refused without being echoed', async () => {
    const client = await connect(mode.origin, SECRET);
    const answers = [
      await client.call('settings.update', { theme: PAN }),
      await client.call('settings.update', { idleLogoutMinutes: PIN }),
      await client.call('settings.update', { pin: PIN, cvv: CVV }),
      await client.call('app.openExternal', {
        url: `https://evil.test/?pan=${PAN}&cvv=${CVV}&acct=${ACCOUNT}`,
      }),
      await client.call('app.status', { key: KEY_HEX }),
    ];
    client.close();
    for (const answer of answers) {
      expect(JSON.stringify(answer)).not.toMatch(
        new RegExp([PAN, PIN, CVV + '&', ACCOUNT, KEY_HEX].join('|')),
      );
    }
  });

  it('a handler that fails with secrets in its error is logged redacted and answered generically', async () => {
    const logger = createLogger({
      name: 'main',
      file: dataPaths(dataDir).logFile,
      level: 'debug',
      stderrLevel: 'silent',
    });
    const registry = new Registry({
      contract: {
        test: {
          fail: channel(z.strictObject({ pin: z.string() }), 'fails')
            .returns<void>()
            .notAudited('a test channel'),
        },
      },
      handlers: {
        test: {
          fail: ({ pin }) => {
            throw new Error(`C_Login failed for PIN ${pin}, card ${PAN_SPACED}, key ${KEY_HEX}`);
          },
        },
      },
      isTrustedSender: () => true,
      logger,
      events: new EventBus(logger),
    });
    const answer = await registry.dispatch('test.fail', { pin: PIN }, { transport: 'cli' });
    expect(answer).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    expect(JSON.stringify(answer)).not.toContain(PIN);
    logger.info('operator typed values', { pin: PIN, cardNumber: PAN, cvv: CVV, accountNumber: ACCOUNT });
    logger.warn(`free text with a card ${PAN} and an account ${ACCOUNT}`);
    const log = readFileSync(dataPaths(dataDir).logFile, 'utf8');
    expect(log).toContain('handler failed');
    expect(log).toContain('[redacted]');
  });

  it('the CLI keeps MKM_PIN and stray arguments out of its output and files', async () => {
    const run = promisify(execFile);
    const env = { ...process.env, MKM_PIN: PIN, MKM_LOG_LEVEL: 'debug' };
    const ok = await run(
      process.execPath,
      [join(root, 'bin/mkm.mjs'), '--json', '--data-dir', dataDir, 'status'],
      { env },
    );
    expect(ok.stdout).not.toContain(PIN);
    const bad = await run(
      process.execPath,
      [join(root, 'bin/mkm.mjs'), '--json', '--data-dir', dataDir, 'status', PAN],
      {
        env,
      },
    ).catch((e: { stdout: string; stderr: string; code: number }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect(bad.stdout + bad.stderr).not.toContain(PAN);
  });

  it('no file the run wrote holds any of the secrets', () => {
    expect(filesUnder(dataDir).length).toBeGreaterThan(1);
    expect(findSecrets([dataDir], [PAN, PAN_SPACED, PIN, ACCOUNT, KEY_HEX, `cvv=${CVV}`])).toEqual([]);
  });
});
