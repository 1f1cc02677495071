import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { StateSealer } from '../../../electron/audit/state-seal.nodejs';
import type { AuditKeyHandle } from '../../../electron/audit/sealer.nodejs';
import { checkJournalSeal, sealJournal } from '../../../electron/ceremony/journal-seal.nodejs';
import type { Journal } from '../../../electron/ceremony/journal.nodejs';

// The token's audit key is faked by an HMAC key in memory (a unit test of the seal's format and
// refusals); test/integration/ceremony/journal-seal.test.ts seals on SoftHSM2 through the app.
const KEY: AuditKeyHandle = { id: 'a1', kcv: 'c0ffee' };

function fakeSealer(options: { loggedIn?: boolean; impossible?: string } = {}) {
  const secret = randomBytes(32);
  const counted: string[] = [];
  let loggedIn = options.loggedIn ?? true;
  const mac = (message: Buffer) => createHmac('sha256', secret).update(message).digest();
  const sealer: StateSealer = {
    ready: async () => undefined,
    current: () => (loggedIn ? KEY : null),
    impossible: () => options.impossible ?? null,
    mac: async (_key, message) => mac(message),
    verify: async (key, message, given) => {
      if (key.id !== KEY.id) throw Object.assign(new Error('not an audit key'), { code: 'STATE_TAMPERED' });
      const expected = mac(message);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
    countSeal: (key, operation) => counted.push(`${key.id}:${operation}`),
  };
  return { sealer, counted, logOut: () => (loggedIn = false) };
}

const journal = (): Journal =>
  ({
    format: 'mkm-ceremony-journal',
    version: 1,
    id: '6f1c2b5e-0d3a-4e8b-9c1d-2a3b4c5d6e7f',
    participants: [{ id: 'p-3', verifier: { hash: 'aGFzaA==' } }],
    entries: [],
  }) as unknown as Journal;

async function code(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (error: { code: string }) => error.code,
  );
}

describe('a ceremony journal sealed by the audit key', () => {
  it('verifies as written, and counts each seal as a use of the audit key', async () => {
    const { sealer, counted } = fakeSealer();
    const j = journal();
    j.seal = await sealJournal(sealer, j);
    expect(j.seal).toMatchObject({ key: KEY, mac: expect.stringMatching(/^[0-9a-f]{64}$/) });
    await checkJournalSeal(sealer, JSON.parse(JSON.stringify(j)) as Journal);
    expect(counted).toEqual(['a1:state-seal']);
  });

  it('refuses a changed verifier, a removed seal and a foreign key with STATE_TAMPERED', async () => {
    const { sealer } = fakeSealer();
    const j = journal();
    j.seal = await sealJournal(sealer, j);
    const swapped = {
      ...j,
      participants: [{ id: 'p-3', verifier: { hash: 'b3RoZXI=' } }],
    } as unknown as Journal;
    expect(await code(checkJournalSeal(sealer, swapped))).toBe('STATE_TAMPERED');
    expect(await code(checkJournalSeal(sealer, { ...j, seal: undefined }))).toBe('STATE_TAMPERED');
    const foreign = { ...j, seal: { ...j.seal, key: { id: 'b2', kcv: 'c0ffee' } } };
    await expect(checkJournalSeal(sealer, foreign)).rejects.toMatchObject({
      code: 'STATE_TAMPERED',
      message: expect.stringContaining('not an audit key'),
    });
  });

  it('with no audit key, neither seals nor vouches: STATE_UNCHECKED, saying why when it cannot be', async () => {
    const { sealer, logOut } = fakeSealer();
    const j = journal();
    j.seal = await sealJournal(sealer, j);
    logOut();
    expect(await code(checkJournalSeal(sealer, j))).toBe('STATE_UNCHECKED');
    expect(await code(sealJournal(sealer, j))).toBe('STATE_UNCHECKED');
    const cannot = fakeSealer({ loggedIn: false, impossible: 'the token cannot make one' }).sealer;
    await expect(sealJournal(cannot, j)).rejects.toMatchObject({
      code: 'STATE_UNCHECKED',
      message: expect.stringContaining('the token cannot make one'),
    });
  });
});
