import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../electron/core/app.nodejs';
import type { CeremonyView } from '../../../shared/contract/ceremony.std';
import type { SoftHsmToken } from '../../helpers/softhsm';
import { COMPONENTS, PEOPLE, encryptTo, ok, proofOf } from '../faults/ceremony-drive';
import { openCeremonyApp, startedWithPeople, type CeremonyApp } from './ceremony-app';

/**
 * Never show what does not hold (issue 11): a ceremony changed anywhere is announced by the app
 * (`state.changed` with `what: 'ceremony'`), whoever changed it: a call that no screen made
 * (another window, the service directly), or the token host restarting, which takes the components held for the ceremony with it; the ceremony is then set
 * to enter them again as soon as its journal can be sealed again (the next login), not when the
 * next step finds them gone.
 */
let bench: CeremonyApp;
let hsm: SoftHsmToken;
let app: App;

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

const started = () => startedWithPeople(bench);

beforeAll(async () => {
  bench = await openCeremonyApp('ceremony-live');
  ({ hsm, app } = bench);
}, 120_000);

afterAll(() => bench?.close());

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
        ciphertext: encryptTo(key.spkiPem, COMPONENTS[0]!),
        transportKeySha256: key.spkiSha256,
      },
    });
    expect((await ok<CeremonyView>(app, 'ceremony.status', { id })).current).toBe('enter-component-2');

    const announced = announcedUntil(app, id, (v) => v.current === 'enter-component-1');
    // The journal is sealed with the audit key, which went with the host's login (the audit trail
    // says so: `seal` changes): it is set to enter the component again once someone logs in again.
    const sealLost = new Promise<void>((resolve) => {
      const stop = app.events.subscribe((name, payload) => {
        if (name !== 'state.changed' || (payload as { what: string }).what !== 'seal') return;
        stop();
        resolve();
      });
    });
    process.kill((await app.tokens.hsm()).hostPid!, 'SIGKILL');
    await sealLost;
    await ok(app, 'tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });
    view = await announced;
    expect(view.steps.find((s) => s.id === 'enter-component-1')!.done).toBe(false);
    expect(view.facts).not.toHaveProperty('component1Kcv');
  });
});
