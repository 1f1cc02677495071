import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JournalStore, verifierFingerprint, type Journal } from '../../../electron/ceremony/journal.nodejs';
import { chainEntry, type TranscriptEntry } from '../../../electron/ceremony/transcript.nodejs';
import { makeVerifier } from '../../../electron/ceremony/verifier.nodejs';
import type { App } from '../../../electron/core/app.nodejs';
import type { CeremonyView } from '../../../shared/contract/ceremony.std';
import type { SoftHsmToken } from '../../helpers/softhsm';
import { COMPONENTS, PEOPLE, drive, encryptTo, ok, proofOf } from '../faults/ceremony-drive';
import { openCeremonyApp, startedWithPeople, type CeremonyApp } from './ceremony-app';

/**
 * The ceremony journal keeps each participant's passphrase verifier, bound only by the
 * transcript's unkeyed chain: whoever can write the data folder could swap a custodian's
 * verifier, rewrite the chain to match, and act as that custodian. The journal is sealed with
 * the audit key on the token (journal-seal.nodejs.ts), so such a journal is refused before
 * anyone is authenticated by it.
 */
let bench: CeremonyApp;
let hsm: SoftHsmToken;
let dataDir: string;
let app: App;

const ATTACKER = 'the attacker passphrase';
const file = (id: string) => join(dataDir, 'ceremonies', `${id}.json`);

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code: string }).code;
  }
  return 'ok';
}

/** A ceremony with everyone enrolled and identified: the next step is custodian 1's component. */
async function atFirstComponent(): Promise<CeremonyView> {
  const id = await startedWithPeople(bench);
  const view = await ok<CeremonyView>(app, 'ceremony.status', { id });
  const admin = proofOf(view, PEOPLE[0].name);
  const confirmer = proofOf(view, PEOPLE[1].name);
  await ok(app, 'ceremony.act', {
    id,
    stepId: 'preflight',
    actor: admin,
    confirmer,
    input: { override: { reason: 'test bench with a network' } },
  });
  await ok(app, 'ceremony.act', { id, stepId: 'identify', actor: admin, confirmer });
  return ok<CeremonyView>(app, 'ceremony.status', { id });
}

/**
 * What an attacker with write access to the data folder does: a verifier of their own for
 * custodian 1, the enroll entry's fingerprint changed to match, and every entry from there
 * hashed again so the chain holds.
 */
async function swapVerifier(id: string, participantId: string): Promise<void> {
  const journal = JSON.parse(readFileSync(file(id), 'utf8')) as Journal;
  const participant = journal.participants.find((p) => p.id === participantId)!;
  participant.verifier = await makeVerifier(ATTACKER, { N: 1024, r: 8, p: 1 });
  const at = journal.entries.findIndex(
    (e) => e.action === 'participant' && e.by[0]?.participantId === participantId,
  );
  journal.entries[at]!.details.verifier = verifierFingerprint(participant.verifier);
  const rechained: TranscriptEntry[] = journal.entries.slice(0, at);
  for (const entry of journal.entries.slice(at)) {
    const { seq: _seq, prev: _prev, hash: _hash, ...unhashed } = entry;
    rechained.push(chainEntry(rechained.at(-1), unhashed));
  }
  journal.entries = rechained;
  writeFileSync(file(id), JSON.stringify(journal, null, 1) + '\n');
}

beforeAll(async () => {
  bench = await openCeremonyApp('journal-seal');
  ({ hsm, dataDir, app } = bench);
}, 120_000);

afterAll(() => bench?.close());

describe('the ceremony journal is sealed with the audit key', () => {
  it('a verifier swapped (chain rewritten) is refused, a seal removed too; the untouched ceremony completes', async () => {
    const view = await atFirstComponent();
    const id = view.id;
    const custodian1 = view.participants.find((p) => p.name === 'Custodian 1')!.id;
    const key = await ok<{ spkiPem: string; spkiSha256: string }>(app, 'ceremony.transportKey', { id });
    const untouched = readFileSync(file(id), 'utf8');
    expect((JSON.parse(untouched) as Journal).seal?.mac).toMatch(/^[0-9a-f]+$/);

    await swapVerifier(id, custodian1);
    // The forgery passes every check but the seal: schema, chain, enrolment fingerprints.
    expect(() => new JournalStore(join(dataDir, 'ceremonies')).load(id)).not.toThrow();
    const forged = readFileSync(file(id), 'utf8');
    const act = () =>
      ok(app, 'ceremony.act', {
        id,
        stepId: 'enter-component-1',
        actor: { participantId: custodian1, passphrase: ATTACKER },
        confirmer: proofOf(view, PEOPLE[1].name),
        input: { ciphertext: encryptTo(key.spkiPem, COMPONENTS[0]!), transportKeySha256: key.spkiSha256 },
      });
    expect(await code(act())).toBe('STATE_TAMPERED');
    expect(readFileSync(file(id), 'utf8')).toBe(forged);
    expect((await ok<CeremonyView>(app, 'ceremony.status', { id })).current).toBe('enter-component-1');

    const unsealed = JSON.parse(untouched) as Journal;
    delete unsealed.seal;
    writeFileSync(file(id), JSON.stringify(unsealed, null, 1) + '\n');
    expect(await code(act())).toBe('STATE_TAMPERED');
    expect(
      await code(ok(app, 'ceremony.abort', { id, actor: proofOf(view, PEOPLE[1].name), reason: 'x' })),
    ).toBe('STATE_TAMPERED');

    writeFileSync(file(id), untouched);
    const { view: done } = await drive(app, id);
    expect(done.state).toBe('completed');
    expect(await ok<{ entries: number }>(app, 'ceremony.transcript', { id })).toMatchObject({
      entries: done.transcriptEntries,
    });
  }, 120_000);

  it('with no token logged in, a journal is not vouched for: STATE_UNCHECKED, nothing written', async () => {
    const ended = await atFirstComponent();
    expect((await drive(app, ended.id)).view.state).toBe('completed');
    const view = await atFirstComponent();
    const before = readFileSync(file(view.id), 'utf8');
    const exception = (text: string) =>
      ok(app, 'ceremony.exception', { id: view.id, witness: proofOf(view, PEOPLE[1].name), text });
    await ok(app, 'tokens.logout', { slotId: hsm.slotId });
    try {
      expect(await code(ok(app, 'ceremony.transcript', { id: ended.id }))).toBe('STATE_UNCHECKED');
      expect(await code(exception('noted while logged out'))).toBe('STATE_UNCHECKED');
      expect(readFileSync(file(view.id), 'utf8')).toBe(before);
    } finally {
      await ok(app, 'tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });
    }
    await ok(app, 'ceremony.transcript', { id: ended.id });
    await exception('noted once logged in again');
    expect(readFileSync(file(view.id), 'utf8')).not.toBe(before);
  }, 120_000);
});
