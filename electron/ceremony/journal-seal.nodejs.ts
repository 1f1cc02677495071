import { createHash } from 'node:crypto';
import { MkmError } from '../../shared/errors.std';
import { canonicalJson } from '../../shared/formats/canonical-json.std';
import type { StateSealer } from '../audit/state-seal.nodejs';
import { keyRefOut } from '../audit/sealer.nodejs';
import { countSeal } from '../lifecycle/usage-seals.nodejs';
import type { Journal, JournalSeal } from './journal.nodejs';

/**
 * A ceremony journal holds each participant's passphrase verifier. The transcript's hash chain
 * is unkeyed, so whoever can write the data folder could swap a custodian's verifier, rewrite the
 * chain to match and then act as that custodian. The journal is therefore sealed with the audit
 * key on the token, like the sealed state files (audit/state-seal.nodejs.ts), but inside the
 * journal itself: one atomic write carries the content and its seal, so a crash between two
 * writes can never leave a journal whose seal is a step behind.
 */
/** Domain-separated: this MAC can be taken for no other sealed content, nor another ceremony's. */
function message(journal: Journal): Buffer {
  const { seal: _seal, ...content } = journal;
  const digest = createHash('sha256').update(canonicalJson(content), 'utf8').digest('hex');
  return Buffer.from(`mkm-ceremony-journal|v1|${journal.id}|${digest}`, 'utf8');
}

/** The audit key to seal or check with, or why there is none (STATE_UNCHECKED). */
async function keyOf(sealer: StateSealer, doing: 'check' | 'seal', id: string) {
  await sealer.ready();
  const key = sealer.current();
  if (key) return key;
  const impossible = sealer.impossible?.() ?? null;
  throw new MkmError(
    'STATE_UNCHECKED',
    impossible
      ? `The ceremony journal cannot be ${doing === 'check' ? 'checked' : 'sealed'}: its seal needs an audit key and ${impossible}.`
      : `Log in to the token to ${doing} the ceremony journal: its seal is made and checked with the audit key.`,
    { ceremonyId: id, ...(impossible ? { reason: impossible } : {}) },
  );
}

/** The seal of the journal's content as it stands, by the current audit key on the token. */
export async function sealJournal(sealer: StateSealer, journal: Journal): Promise<JournalSeal> {
  const key = await keyOf(sealer, 'seal', journal.id);
  const mac = await sealer.mac(key, message(journal));
  countSeal(sealer.countSeal, key, 'state-seal');
  return { key: keyRefOut(key), mac: mac.toString('hex') };
}

/** Resolves when the loaded journal is sealed by an audit key; otherwise refuses it. */
export async function checkJournalSeal(sealer: StateSealer, journal: Journal): Promise<void> {
  await keyOf(sealer, 'check', journal.id);
  const tampered = (reason: string) =>
    new MkmError(
      'STATE_TAMPERED',
      `The ceremony journal ${journal.id} is not used: it ${reason}. Nothing is done with it: restore it from a copy you trust, or start the ceremony again.`,
      { ceremonyId: journal.id, file: `${journal.id}.json`, reason },
    );
  if (!journal.seal)
    throw tampered('has no seal: it was written outside mkm, or by a build that did not seal journals');
  let matches: boolean;
  try {
    matches = await sealer.verify(journal.seal.key, message(journal), Buffer.from(journal.seal.mac, 'hex'));
  } catch (error) {
    if ((error as { code?: unknown }).code === 'STATE_TAMPERED')
      throw tampered('is sealed with a key that is not an audit key');
    throw error;
  }
  if (!matches) throw tampered('does not match its seal: it was changed after mkm sealed it');
}
