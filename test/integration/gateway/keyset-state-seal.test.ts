import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { softHsmAvailable } from '../../helpers/softhsm';
import { createConsoleRig, type ConsoleRig } from '../console/setup';
import { openApp } from '../../helpers/app';

/** What an attacker with write access to the data folder does: pins a signing key of their own. */
function pinAttackerKey(pinned: { pem: string; spkiSha256: string }): void {
  const attacker = generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey;
  pinned.pem = attacker.export({ type: 'spki', format: 'pem' }).toString();
  pinned.spkiSha256 = createHash('sha256')
    .update(attacker.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/**
 * The gateway state file's pinned signing key decides which key sets the client installs in the
 * token, and key-set work writes that file. So the file's seal is checked before any key-set work:
 * a state file changed behind mkm's back between two calls refuses the next call's key-set install
 * (STATE_TAMPERED) and is left exactly as found (no write would seal the swap as mkm's own).
 * Real SoftHSM2, real sandbox gateway.
 */
let rig: ConsoleRig;

beforeAll(async () => {
  rig = await createConsoleRig({ label: 'keyset-seal' });
  // The login attaches the audit key in the background: wait until it has.
  await rig.app.audit.verify();
}, 120_000);
afterAll(async () => {
  await rig?.close();
});

describe.runIf(softHsmAvailable())('key-set install over a sealed gateway state', () => {
  it('a signing key swapped in the state file between two calls refuses the next install, nothing written', async () => {
    const ping = () => rig.call('gateway.ping', { profileId: rig.profileId });
    const first = await ping();
    expect(first.ok, JSON.stringify(first)).toBe(true);
    // Its writes are sealed in the background: tamper with what mkm sealed, not a write in flight.
    await rig.app.seals.settled();

    const file = join(rig.dataDir, 'gateway', `gateway-${rig.profileId}.json`);
    const original = readFileSync(file, 'utf8');
    const seal = readFileSync(file + '.seal', 'utf8');
    const state = JSON.parse(original) as {
      signingKey: { pinned: { pem: string; spkiSha256: string; keyId: string | null } };
      keySet: { setId: string } | null;
    };
    expect(state.keySet).not.toBeNull();
    pinAttackerKey(state.signingKey.pinned);
    const tampered = JSON.stringify(state, null, 2) + '\n';
    writeFileSync(file, tampered);

    const refused = await ping();
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.error).toMatchObject({
      code: 'STATE_TAMPERED',
      details: { file: `gateway-${rig.profileId}.json` },
    });
    // Nothing written over it (no used id, no new set), and no seal made for the swap.
    expect(readFileSync(file, 'utf8')).toBe(tampered);
    expect(readFileSync(file + '.seal', 'utf8')).toBe(seal);

    // Put back as mkm sealed it, the chain goes on.
    writeFileSync(file, original);
    const again = await ping();
    expect(again.ok, JSON.stringify(again)).toBe(true);
  });

  it('an app started over a tampered state file does not seal the swap as its own: the first set is refused, nothing written', async () => {
    const file = join(rig.dataDir, 'gateway', `gateway-${rig.profileId}.json`);
    // Closing ends the client (its set is dropped from the file, sealed anew).
    await rig.closeApp();
    await rig.app.seals.settled();
    const state = JSON.parse(readFileSync(file, 'utf8')) as {
      signingKey: { pinned: { pem: string; spkiSha256: string } };
    };
    const seal = readFileSync(file + '.seal', 'utf8');
    pinAttackerKey(state.signingKey.pinned);
    // Swapped while the app is closed: the next app reads the swap into its gateway client.
    const tampered = JSON.stringify(state, null, 2) + '\n';
    writeFileSync(file, tampered);
    const app = openApp(rig.dataDir, rig.token.modulePath);
    try {
      const call = (channel: string, request?: unknown) =>
        app.registry.dispatch(channel, request, { transport: 'cli' });
      const login = await call('tokens.login', { slotId: rig.token.slotId, pin: rig.token.userPin });
      expect(login.ok, JSON.stringify(login)).toBe(true);
      await app.audit.verify();
      const refused = await call('gateway.ping', { profileId: rig.profileId });
      expect(!refused.ok && refused.error.code).toBe('STATE_TAMPERED');
      await rig.app.seals.settled();
      expect(readFileSync(file, 'utf8')).toBe(tampered);
      expect(readFileSync(file + '.seal', 'utf8')).toBe(seal);
    } finally {
      await app.close();
    }
  });
});
