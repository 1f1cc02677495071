import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  PciCeremonyClearStep,
  PciCeremonyEvidence,
  PciCeremonyRecord,
} from '../../shared/contract/report.std';
import { MkmError, toErrorShape } from '../../shared/errors.std';
import { verifyTranscript, type TranscriptRecord } from '../ceremony/transcript.nodejs';

/**
 * The key ceremonies' evidence for split knowledge and dual control (3.6.1.2, 3.7.6), read from
 * the signed transcripts in the ceremony folder. A transcript counts only once its chain and its
 * signature verify, and only when this installation's audit log (hash-chained, sealed on the
 * token) recorded that ceremony with the same signer and the transcript's last entry: a
 * transcript verifies against the key it carries, so without that anchor anyone could sign one
 * of their own. One that fails is listed as refused and never read for evidence. The journals
 * are not evidence (they are unsigned); one without a transcript only says a ceremony is running.
 */

/** What the audit log holds of one ceremony: the key it named to sign, its entries' fingerprints. */
export interface CeremonyAnchor {
  signer: string | null;
  fingerprints: Set<string>;
}

const fingerprintOf = (v: unknown): string | null =>
  typeof v === 'object' && v !== null && typeof (v as { fingerprint?: unknown }).fingerprint === 'string'
    ? (v as { fingerprint: string }).fingerprint
    : null;

/** The ceremonies as the audit log records them (CeremonyService writes each transcript entry there). */
export function ceremonyAnchors(
  entries: Iterable<{ action: string; details?: Record<string, unknown> }>,
): Map<string, CeremonyAnchor> {
  const anchors = new Map<string, CeremonyAnchor>();
  for (const e of entries) {
    const id = e.details?.ceremonyId;
    if (!e.action.startsWith('ceremony.') || typeof id !== 'string') continue;
    const anchor = anchors.get(id) ?? { signer: null, fingerprints: new Set<string>() };
    anchors.set(id, anchor);
    const entry = (e.details?.transcript as { fingerprint?: unknown } | undefined)?.fingerprint;
    if (typeof entry === 'string') anchor.fingerprints.add(entry);
    if (e.action === 'ceremony.start') anchor.signer = fingerprintOf(e.details?.signer);
  }
  return anchors;
}

/** The step kinds in which a clear-text component or share passes through one custodian. */
export const CLEAR_STEP_KINDS: readonly string[] = [
  'enter-component',
  'reveal-component',
  'enter-share',
  'reveal-share',
  'drill-share',
];

const reasonOf = (error: unknown) => {
  const shape = toErrorShape(error);
  return `${shape.message} [${shape.code}]`;
};

/** What a verified transcript shows (pure: the record is already verified). */
export function ceremonyRecord(record: TranscriptRecord, signer: string): PciCeremonyRecord {
  const c = record.ceremony;
  const clearSteps: PciCeremonyClearStep[] = [];
  const custodians: string[] = [];
  let dualControl = true;
  let keyKcv: string | null = null;
  const exceptions: string[] = [];
  const signedOff: string[] = [];
  for (const entry of record.entries) {
    if (entry.action === 'step' && entry.step) {
      const kcv = entry.details.keyKcv ?? entry.details.keyKcvCmac;
      if (typeof kcv === 'string') keyKcv = kcv;
      if (!CLEAR_STEP_KINDS.includes(entry.step.kind)) continue;
      const [actor, confirmer] = entry.by;
      clearSteps.push({
        step: entry.step.id,
        kind: entry.step.kind,
        custodian: actor?.name ?? '(nobody)',
        confirmer: confirmer?.name ?? null,
      });
      if (!actor || !confirmer || actor.participantId === confirmer.participantId) dualControl = false;
      if (actor) custodians.push(actor.participantId);
    } else if (entry.action === 'exception') {
      const text = entry.details.text;
      exceptions.push(`${entry.at} ${entry.by[0]?.name ?? ''}: ${typeof text === 'string' ? text : ''}`);
    } else if (entry.action === 'sign-off' && entry.by[0]) {
      signedOff.push(entry.by[0].name);
    }
  }
  const splitKnowledge =
    clearSteps.length > 0 &&
    new Set(custodians).size === custodians.length &&
    custodians.length === clearSteps.length;
  return {
    id: c.id,
    template: c.template,
    title: c.title,
    state: c.state,
    startedAt: c.startedAt,
    closedAt: c.closedAt,
    clearSteps,
    dualControl: clearSteps.length > 0 && dualControl,
    splitKnowledge,
    keyKcv,
    exceptions,
    signedOff,
    signer,
  };
}

function journalHead(file: string): { template: string | null; startedAt: string | null } {
  try {
    const header = (JSON.parse(readFileSync(file, 'utf8')) as { header?: Record<string, unknown> }).header;
    const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 64) : null);
    return { template: str(header?.template), startedAt: str(header?.startedAt) };
  } catch {
    return { template: null, startedAt: null };
  }
}

export function ceremonyEvidence(folder: string, anchors: Map<string, CeremonyAnchor>): PciCeremonyEvidence {
  const evidence: PciCeremonyEvidence = { verified: [], refused: [], inProgress: [], error: null };
  let names: string[];
  try {
    names = existsSync(folder) ? readdirSync(folder).sort() : [];
  } catch (error) {
    return { ...evidence, error: reasonOf(error) };
  }
  const present = new Set(names);
  for (const name of names) {
    if (name.endsWith('.mkmx')) {
      try {
        const { record, signer } = verifyTranscript(readFileSync(join(folder, name), 'utf8'));
        const anchor = anchors.get(record.ceremony.id);
        const last = record.entries.at(-1)?.hash;
        if (!anchor || anchor.signer !== signer || !last || !anchor.fingerprints.has(last)) {
          throw new MkmError('TRANSCRIPT_UNRECORDED', undefined, {
            ceremonyId: record.ceremony.id,
            recorded: anchor
              ? anchor.signer === signer
                ? 'last entry missing'
                : 'other signer'
              : 'no entry',
          });
        }
        evidence.verified.push(ceremonyRecord(record, signer));
      } catch (error) {
        evidence.refused.push({ file: name, reason: reasonOf(error) });
      }
      continue;
    }
    const id = /^([0-9a-f-]{36})\.json$/.exec(name)?.[1];
    if (id && !present.has(`${id}.mkmx`))
      evidence.inProgress.push({ id, ...journalHead(join(folder, name)) });
  }
  return evidence;
}
