import { mkdtempSync, rmSync } from 'node:fs';
import { constants, publicEncrypt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../electron/core/app.nodejs';
import type { CeremonyView } from '../../../shared/contract/ceremony.std';
import { openApp } from '../../helpers/app';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { COMPONENTS, FORM, PEOPLE, ok, passphrase, proofOf } from '../faults/ceremony-drive';

/**
 * Never show what does not hold (issue 11): a ceremony changed anywhere is announced by the app
 * (`state.changed` with `what: 'ceremony'`), whoever changed it: a call that no screen made
 * (another window, the service directly), or the token host restarting, which takes the components held for the ceremony with it; the ceremony is then set
 * to enter them again at once, not when the next step finds them gone.
 */
let hsm: SoftHsmToken;
let dataDir: string;
let app: App;
let signingKeyId: string;

/**
 * Reads the ceremony again at each `state.changed` about ceremonies the app announces, until it
 * is as `expected` says (writes announce themselves a little after they land, so one event may
 * be an earlier write's).
 */
function announcedUntil(
  of: App,
  id: string,
  expected: (view: CeremonyView) => boolean,
): Promise<CeremonyView> {
  return new Promise((resolve, reject) => {
    const stop = of.events.subscribe((name, payload) => {
      if (name !== 'state.changed' || (payload as { what: string }).what !== 'ceremony') return;
      ok<CeremonyView>(of, 'ceremony.status', { id }).then((view) => {
        if (!expected(view)) return;
        stop();
        resolve(view);
      }, reject);
    });
  });
}

async function started(): Promise<string> {
  const c = await ok<CeremonyView>(app, 'ceremony.start', { params: FORM, slotId: hsm.slotId, signingKeyId });
  for (const who of PEOPLE) {
    await ok(app, 'ceremony.enroll', {
      id: c.id,
      ...who,
      passphrase: passphrase(who.name),
      acknowledged: true,
    });
  }
  return c.id;
}

beforeAll(async () => {
  hsm = createSoftHsmToken({ label: 'ceremony-live' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-ceremony-live-'));
  app = openApp(dataDir, hsm.modulePath, { watchSlots: false });
  await ok(app, 'tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });
  signingKeyId = (
    await ok<{ id: string }>(app, 'keys.generate', {
      slotId: hsm.slotId,
      type: 'rsa-2048',
      label: 'ceremony signer',
      purpose: 'signing',
    })
  ).id;
}, 120_000);

afterAll(async () => {
  await app?.close();
  hsm?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('the app announces every change to a ceremony', () => {
  it('one aborted through the service, not through any screen', async () => {
    const id = await started();
    const view = await ok<CeremonyView>(app, 'ceremony.status', { id });
    const announced = announcedUntil(app, id, (v) => v.state === 'aborted');
    await ok(app, 'ceremony.abort', { id, actor: proofOf(view, PEOPLE[1].name), reason: 'from elsewhere' });
    expect((await announced).state).toBe('aborted');
  });

  it('a token host restart: the component entered is to be entered again, said at once', async () => {
    const id = await started();
    let view = await ok<CeremonyView>(app, 'ceremony.status', { id });
    const confirmer = proofOf(view, PEOPLE[1].name);
    await ok(app, 'ceremony.act', {
      id,
      stepId: 'preflight',
      actor: proofOf(view, PEOPLE[0].name),
      confirmer,
      input: { override: { reason: 'test bench with a network' } },
    });
    await ok(app, 'ceremony.act', {
      id,
      stepId: 'identify',
      actor: proofOf(view, PEOPLE[0].name),
      confirmer,
    });
    const key = await ok<{ spkiPem: string; spkiSha256: string }>(app, 'ceremony.transportKey', { id });
    await ok(app, 'ceremony.act', {
      id,
      stepId: 'enter-component-1',
      actor: proofOf(view, 'Custodian 1'),
      confirmer,
      input: {
        ciphertext: publicEncrypt(
          { key: key.spkiPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
          COMPONENTS[0]!,
        ).toString('base64'),
        transportKeySha256: key.spkiSha256,
      },
    });
    expect((await ok<CeremonyView>(app, 'ceremony.status', { id })).current).toBe('enter-component-2');

    const announced = announcedUntil(app, id, (v) => v.current === 'enter-component-1');
    process.kill((await app.tokens.hsm()).hostPid!, 'SIGKILL');
    // The journal is sealed with the audit key, which went with the host's login: it is set to
    // enter the component again as soon as someone logs in again, before any step can be asked.
    await ok(app, 'tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });
    view = await announced;
    expect(view.steps.find((s) => s.id === 'enter-component-1')!.done).toBe(false);
    expect(view.facts).not.toHaveProperty('component1Kcv');
  });
});
