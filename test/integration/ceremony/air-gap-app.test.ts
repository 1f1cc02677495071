import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CeremonyView } from '../../../shared/contract/ceremony.std';
import { createConsoleRig, type ConsoleRig } from '../console/setup';

/**
 * Issue 11 point 7: while a key ceremony is in progress on this machine, no gateway call leaves
 * it (refused before a connection opens): the real app, the real sandbox gateway, SoftHSM2.
 */
let rig: ConsoleRig;
let signingKeyId: string;
const PASS = 'a long ceremony passphrase';

beforeAll(async () => {
  rig = await createConsoleRig({ label: 'ceremony-air-gap' });
  signingKeyId = (
    await rig.ok<{ id: string }>('keys.generate', {
      slotId: rig.token.slotId,
      type: 'rsa-3072',
      label: 'ceremony-signer',
      purpose: 'signing',
    })
  ).id;
}, 120_000);
afterAll(() => rig?.close());

describe('a ceremony in progress', () => {
  it('refuses every gateway call until it ends', async () => {
    expect(await rig.code('gateway.ping', { profileId: rig.profileId })).toBe('ok');
    const started = await rig.ok<CeremonyView>('ceremony.start', {
      params: { template: 'form-key', keyType: 'aes-256', components: 2, label: 'zmk', purpose: 'kek' },
      slotId: rig.token.slotId,
      signingKeyId,
    });
    await rig.ok('ceremony.enroll', {
      id: started.id,
      name: 'Alice Admin',
      role: 'administrator',
      passphrase: PASS,
      acknowledged: true,
    });
    for (const [channel, request] of [
      ['gateway.ping', { profileId: rig.profileId }],
      ['gateway.sync', { profileId: rig.profileId }],
      ['gateway.fetchKey', { profileId: rig.profileId }],
    ] as const) {
      expect(await rig.code(channel, request)).toBe('CEREMONY_IN_PROGRESS');
    }
    await rig.ok('ceremony.abort', {
      id: started.id,
      actor: { participantId: 'p-1', passphrase: PASS },
      reason: 'the drill is over',
    });
    expect(await rig.code('gateway.ping', { profileId: rig.profileId })).toBe('ok');
  });
});
