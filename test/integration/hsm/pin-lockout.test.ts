import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../electron/core/app.nodejs';
import { ERROR_SENTENCES, MkmError, type MkmErrorShape } from '../../../shared/errors.std';
import type { SlotSummary } from '../../../shared/tokens.std';
import { pinWarningFromError, pinWarningFromFlags } from '../../../renderer/src/tokens/pinWarning.dom';
import { mkmOn } from '../../helpers/mkm-cli';
import { findSecrets } from '../../helpers/scan';
import { acquireOpenCryptoki, type OpenCryptoki, type OpenCryptokiToken } from '../../helpers/opencryptoki';

/**
 * Wrong PIN to lockout on a token with a real retry counter: openCryptoki's software token,
 * re-made for each part of this file (scripts/opencryptoki-token.sh). SoftHSM2 cannot do this
 * (it never leaves COUNT_LOW, see pkcs11-session.test.ts). openCryptoki 3.8 marks failed user
 * logins COUNT_LOW → FINAL_TRY → LOCKED; the try that locks answers CKR_PIN_INCORRECT with the
 * locked flag, every later one CKR_PIN_LOCKED. mkm reports both locked answers as PIN_LOCKED.
 *
 * The swtok token is one per machine: this is the only file that uses it, under a lock.
 */
const WRONG = ['0000', '1111', '2222'];

/**
 * Set-up that fails must fail the tests, not skip them (a failing vitest hook reports its tests
 * as skipped): hooks start the work, each test awaits it, and only the tests throw.
 */
function inTests<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return work;
}

let ock: Promise<OpenCryptoki>;

beforeAll(() => {
  ock = inTests(acquireOpenCryptoki());
});

afterAll(async () => (await ock.catch(() => null))?.release());

describe('through the registry (tokens.login → host process → openCryptoki)', () => {
  let token: OpenCryptokiToken;
  let dataDir: string;
  let app: App;
  let ready: Promise<void>;

  const call = (channel: string, request?: unknown) =>
    app.registry.dispatch(channel, request, { transport: 'cli' });
  const login = async (pin: string) => {
    const reply = (await call('tokens.login', { slotId: token.slotId, pin })) as
      { ok: true } | { ok: false; error: MkmErrorShape };
    if (reply.ok)
      throw new Error(`login with ${pin === token.userPin ? 'the right' : 'a wrong'} PIN succeeded`);
    expect(JSON.stringify(reply)).not.toContain(pin);
    return reply.error;
  };
  const slot = async () => {
    const reply = (await call('tokens.list')) as { ok: true; result: SlotSummary[] };
    return reply.result.find((s) => s.slotId === token.slotId)!;
  };

  beforeAll(() => {
    ready = inTests(
      (async () => {
        token = await (await ock).remake('mkm-lockout-app');
        dataDir = mkdtempSync(join(tmpdir(), 'mkm-lockout-'));
        app = createApp({
          mode: 'cli',
          dataDir,
          moduleOverride: token.modulePath,
          isTrustedSender: () => true,
        });
      })(),
    );
  });

  afterAll(async () => {
    await ready.catch(() => undefined);
    // The token can only be re-made once no process holds a session on it: close the host first.
    await app?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('warns count-low, then final try, then locks; the right PIN is then refused; the slot shows the lock', async () => {
    await ready;
    const fresh = await slot();
    expect(fresh.token!.label).toBe('mkm-lockout-app');
    expect(fresh.token!.flags).toMatchObject({
      userPinInitialized: true,
      userPinCountLow: false,
      userPinFinalTry: false,
      userPinLocked: false,
    });
    expect(pinWarningFromFlags(fresh.token!.flags)).toBeNull();

    const errors = [];
    for (const pin of WRONG) errors.push(await login(pin));
    errors.push(await login(token.userPin));

    // What the host saw on the token right after each try, and the raw answer kept for support.
    expect(
      errors.map((e) => [
        e.code,
        e.details?.ckr,
        e.details?.countLow,
        e.details?.finalTry,
        e.details?.locked,
      ]),
    ).toEqual([
      ['PIN_INCORRECT', 'CKR_PIN_INCORRECT', true, false, false],
      ['PIN_INCORRECT', 'CKR_PIN_INCORRECT', false, true, false],
      ['PIN_LOCKED', 'CKR_PIN_INCORRECT', false, false, true],
      ['PIN_LOCKED', 'CKR_PIN_LOCKED', false, false, true],
    ]);
    expect(errors[0]!.message).toBe(ERROR_SENTENCES.PIN_INCORRECT);
    expect(errors[2]!.message).toBe(
      `${ERROR_SENTENCES.PIN_INCORRECT} That was the last try. ${ERROR_SENTENCES.PIN_LOCKED}`,
    );
    expect(errors[3]!.message).toBe(ERROR_SENTENCES.PIN_LOCKED);

    // The login dialog's warnings, in the order the admin sees them.
    const shown = errors.map((e) => pinWarningFromError(MkmError.fromShape(e)));
    expect(shown.map((w) => w?.kind)).toEqual(['count-low', 'final-try', 'locked', 'locked']);
    expect(shown[3]!.text).toMatch(/user PIN is locked.*security officer sets a new user PIN/);

    const locked = await slot();
    expect(locked.token!.flags).toMatchObject({
      userPinCountLow: false,
      userPinFinalTry: false,
      userPinLocked: true,
    });
    expect(locked.session.loggedIn).toBe(false);
    expect(pinWarningFromFlags(locked.token!.flags)?.kind).toBe('locked');
  });

  it('is unlocked only by the security officer setting a new user PIN, as the locked message says', async () => {
    await ready;
    expect((await slot()).token!.flags.userPinLocked).toBe(true);
    expect(
      await call('tokens.initUserPin', {
        slotId: token.slotId,
        soPin: token.soPin,
        userPin: '13572468',
        confirm: true,
      }),
    ).toMatchObject({ ok: true });
    expect((await slot()).token!.flags).toMatchObject({ userPinLocked: false, userPinFinalTry: false });
    expect(await call('tokens.login', { slotId: token.slotId, pin: '13572468' })).toMatchObject({
      ok: true,
      result: { loggedIn: true, userType: 'user' },
    });
    // The audit log and settings recorded every try, and none of the PINs.
    expect(findSecrets([dataDir], [token.userPin, token.soPin, '13572468'])).toEqual([]);
  });
});

describe('through the CLI (mkm login-test)', () => {
  let token: OpenCryptokiToken;
  let dataDir: string;
  let ready: Promise<void>;
  const mkm = mkmOn(() => ({ dataDir, token }));

  beforeAll(() => {
    ready = inTests(
      (async () => {
        token = await (await ock).remake('mkm-lockout-cli');
        dataDir = mkdtempSync(join(tmpdir(), 'mkm-lockout-cli-'));
      })(),
    );
  });

  afterAll(async () => {
    await ready.catch(() => undefined);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints the few-tries warning, the final-try warning, then the lock, and the right PIN stays locked', async () => {
    await ready;
    const runs = [];
    for (const pin of [...WRONG, token.userPin]) runs.push(await mkm(['login-test'], pin));

    expect(runs.map((r) => r.code)).toEqual([1, 1, 1, 1]);
    expect(runs.map((r) => r.stdout)).toEqual(['', '', '', '']);
    expect(runs.map((r) => r.stderr.trim())).toEqual([
      'mkm: The PIN is incorrect. Few tries are left before the PIN locks. [PIN_INCORRECT]',
      'mkm: The PIN is incorrect. One try is left before the PIN locks. [PIN_INCORRECT]',
      `mkm: The PIN is incorrect. That was the last try. ${ERROR_SENTENCES.PIN_LOCKED} [PIN_LOCKED]`,
      `mkm: ${ERROR_SENTENCES.PIN_LOCKED} [PIN_LOCKED]`,
    ]);
    for (const [i, r] of runs.entries()) expect(r.stderr).not.toContain([...WRONG, token.userPin][i]);

    const listing = await mkm(['tokens']);
    expect(listing.code).toBe(0);
    expect(findSecrets([dataDir], [token.userPin])).toEqual([]);
    expect(listing.stdout).toMatch(new RegExp(`^slot ${token.slotId} +mkm-lockout-cli .*PIN LOCKED`, 'm'));
  });
});
