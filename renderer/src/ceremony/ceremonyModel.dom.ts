import {
  TemplateParamsSchema,
  type CeremonyKeyPurpose,
  type CeremonyRole,
  type CeremonyTemplate,
  type ComponentKeyType,
  type TemplateParams,
} from '../../../shared/ceremony/script.std';
import type { CeremonyStepView, CeremonyView } from '../../../shared/contract/ceremony.std';
import { componentKeyTypeName } from '../../../shared/formats/components.std';
import { pgpWordsOfHex } from '../../../shared/formats/pgp-words.std';
import type { ObjectInfo } from '../../../shared/tokens.std';
import { formatKcv } from '../../../shared/wording.std';

/**
 * The Ceremony screen's pure parts: the parameters form as a template's params, who may act and
 * confirm a step, the signing keys a transcript may be signed with, and hashes as people read
 * them aloud (hex in groups, and PGP words).
 */

/** A hash as it is compared aloud: upper-case hex in groups of four. */
export function hexGroups(hex: string): string {
  return (hex.toUpperCase().match(/.{1,4}/g) ?? []).join(' ');
}

/** The same hash as PGP words (two words per pair of bytes read in turn). */
export function hashWords(hex: string): string {
  return pgpWordsOfHex(hex).join(' ');
}

/** What the parameters form holds: every field any template asks for, as typed. */
export interface ParamsForm {
  template: CeremonyTemplate;
  keyType: ComponentKeyType;
  components: string;
  label: string;
  purpose: CeremonyKeyPurpose;
  keyId: string;
  kbpkId: string;
  shares: string;
  threshold: string;
  /** M-of-N shares: the backup record's text (.kek-backup.json), for a recovery or a drill. */
  backup: string;
  // TR-31: the exported block's header, and the KBPK's type where the token cannot tell its size
  usage: string;
  modeOfUse: string;
  exportability: string;
  kbpkType: string;
}

export const EMPTY_PARAMS: ParamsForm = {
  template: 'form-key',
  keyType: 'aes-256',
  components: '2',
  label: '',
  purpose: 'data',
  keyId: '',
  kbpkId: '',
  shares: '3',
  threshold: '2',
  backup: '', // M-of-N shares
  usage: 'D0',
  modeOfUse: 'B',
  exportability: 'E',
  kbpkType: '',
};

/** Which fields of the form a template asks for, in the order they are shown. */
export const TEMPLATE_FIELDS: Record<CeremonyTemplate, (keyof Omit<ParamsForm, 'template'>)[]> = {
  'form-key': ['keyType', 'components', 'label', 'purpose'],
  'split-key': ['keyType', 'components', 'label', 'purpose'],
  'kek-backup': ['keyId', 'shares', 'threshold'],
  'kek-recover': ['backup', 'shares', 'threshold', 'label'], // M-of-N shares: backup
  'share-drill': ['backup', 'shares', 'threshold'], // M-of-N shares: backup
  'tr31-export': ['keyId', 'kbpkId', 'usage', 'modeOfUse', 'exportability', 'kbpkType'],
  'tr31-import': ['kbpkId', 'label', 'kbpkType'],
};

const NUMBER_FIELDS = new Set(['components', 'shares', 'threshold']);
const HEADER_FIELDS = new Set(['usage', 'modeOfUse', 'exportability']);

/**
 * The template's parameters from the form, checked by the contract's own schema; a refusal names
 * the field in words an administrator understands.
 */
export function paramsFromForm(
  form: ParamsForm,
): { ok: true; params: TemplateParams } | { ok: false; message: string } {
  const raw: Record<string, unknown> = { template: form.template };
  for (const field of TEMPLATE_FIELDS[form.template]) {
    const value = form[field];
    // M-of-N shares: the record as the backup ceremony wrote it; the schema checks it whole.
    if (field === 'backup') {
      raw[field] = jsonOrNull(value);
      continue;
    }
    // TR-31: header codes are upper case; no KBPK type means the token's own size
    if (field === 'kbpkType' && value.trim() === '') continue;
    if (HEADER_FIELDS.has(field)) {
      raw[field] = value.trim().toUpperCase();
      continue;
    }
    raw[field] = NUMBER_FIELDS.has(field)
      ? /^\s*\d+\s*$/.test(value)
        ? Number(value)
        : Number.NaN
      : field === 'keyId' || field === 'kbpkId'
        ? value.trim().toLowerCase()
        : value;
  }
  const parsed = TemplateParamsSchema.safeParse(raw);
  if (parsed.success) {
    const { threshold, shares } = raw as { threshold?: number; shares?: number };
    if (threshold !== undefined && shares !== undefined && threshold > shares) {
      return { ok: false, message: 'The threshold cannot exceed the number of shares.' };
    }
    return { ok: true, params: parsed.data };
  }
  const field = String(parsed.error.issues[0]?.path[0] ?? 'template');
  return { ok: false, message: FIELD_PROBLEMS[field] ?? 'Check the parameters.' };
}

// M-of-N shares
function jsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

const FIELD_PROBLEMS: Record<string, string> = {
  backup:
    'Load the backup record (.kek-backup.json) the backup ceremony wrote; its share count and threshold must match.',
  components: 'A key is formed from 2 to 9 components.',
  shares: 'A backup has 2 to 16 shares.',
  threshold: 'The threshold is 2 to 16 shares.',
  label: 'The label is 1 to 64 printable ASCII characters.',
  keyId: 'The key id is the token’s CKA_ID in hex (from the Keys screen).',
  kbpkId: 'The KBPK id is the token’s CKA_ID in hex (from the Keys screen).',
  keyType: 'Choose a key type.',
  purpose: 'Choose a purpose.',
  usage: 'The key usage is a TR-31 code such as D0, K0, K1, P0, B0 or M3.',
  modeOfUse: 'The mode of use is one TR-31 letter such as B, E, D, C, G, V or X.',
  exportability: 'Exportability is E, N (never exported again) or S.',
  kbpkType: 'The KBPK type is aes-128, aes-192, aes-256, tdes-2key or tdes-3key (or empty).',
};

/**
 * The keys a transcript may be signed with: RSA private keys that only sign (the engine refuses
 * any other; see electron/ceremony/token-port.nodejs.ts).
 */
export function signingKeys(objects: readonly ObjectInfo[]): ObjectInfo[] {
  return objects.filter(
    (o) => o.class === 'private' && o.keyType === 'rsa' && o.usages.length === 1 && o.usages[0] === 'sign',
  );
}

export type Participant = CeremonyView['participants'][number];

const STEP_INDEX = /-(\d+)$/;

/** The custodian a numbered custodial step belongs to (enter-component-2 → 2), or null. */
export function stepCustodian(step: CeremonyStepView): number | null {
  if (!step.roles.includes('custodian') || step.kind === 'sign-off') return null;
  const m = STEP_INDEX.exec(step.id);
  return m ? Number(m[1]) : null;
}

/** Who may do a step: a participant of a role it names; for a custodian's step, that custodian. */
export function actorsFor(view: CeremonyView, step: CeremonyStepView): Participant[] {
  const custodian = stepCustodian(step);
  return view.participants.filter(
    (p) =>
      step.roles.includes(p.role) &&
      (p.role !== 'custodian' || custodian === null || p.custodian === custodian),
  );
}

const CONFIRMING_ROLES: readonly CeremonyRole[] = ['administrator', 'witness'];

/** Who may confirm a dual-control step: the witness or the administrator, never the actor. */
export function confirmersFor(view: CeremonyView, actorId: string): Participant[] {
  return view.participants.filter((p) => CONFIRMING_ROLES.includes(p.role) && p.id !== actorId);
}

/** The step the ceremony has reached, or null once it is over. */
export function currentStep(view: CeremonyView): CeremonyStepView | null {
  return view.steps.find((s) => s.id === view.current) ?? null;
}

/** The roles still to be enrolled, in the order a room identifies them. */
export function missingRoles(
  view: CeremonyView,
  custodians: number,
): { role: CeremonyRole; count: number }[] {
  const has = (role: CeremonyRole) => view.participants.filter((p) => p.role === role).length;
  return (
    [
      { role: 'administrator', count: 1 - has('administrator') },
      { role: 'witness', count: 1 - has('witness') },
      { role: 'custodian', count: custodians - has('custodian') },
    ] as { role: CeremonyRole; count: number }[]
  ).filter((r) => r.count > 0);
}

/** How many custodians a ceremony's script needs: one per numbered custodial step. */
export function custodiansNeeded(view: CeremonyView): number {
  return new Set(view.steps.map(stepCustodian).filter((c): c is number => c !== null)).size;
}

export const ROLE_NAMES: Record<CeremonyRole, string> = {
  administrator: 'Administrator',
  witness: 'Witness',
  custodian: 'Custodian',
};

export function participantName(p: Participant): string {
  return p.custodian === null ? `${p.name} (${p.role})` : `${p.name} (custodian ${p.custodian})`;
}

/** A step's recorded details, as rows for a facts list; names ending in kcv come first. */
export function detailRows(details: Record<string, unknown>): [string, string][] {
  return Object.entries(details)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]): [string, string] => [
      k,
      // A check value reads the same everywhere in mkm (formatKcv), whatever case the step wrote.
      typeof v === 'string' && /kcv/i.test(k) ? formatKcv(v) : Array.isArray(v) ? v.join(', ') : String(v),
    ])
    .sort(([a], [b]) => Number(/kcv/i.test(b)) - Number(/kcv/i.test(a)));
}

export const PURPOSE_NAMES: Record<CeremonyKeyPurpose, string> = {
  data: 'Data encryption',
  kek: 'Key encryption (KEK)',
  kbpk: 'Key block protection (KBPK)',
  mac: 'MAC',
};

/** What the script was made for, as the ceremony's header shows it: its template's parameters. */
export function paramRows(params: TemplateParams): [string, string][] {
  const shares = (p: { threshold: number; shares: number }): [string, string] => [
    'Shares',
    `any ${p.threshold} of ${p.shares}`,
  ];
  switch (params.template) {
    case 'form-key':
    case 'split-key':
      return [
        ['Key type', componentKeyTypeName(params.keyType)],
        ['Components', String(params.components)],
        ['Label', params.label],
        ['Purpose', PURPOSE_NAMES[params.purpose]],
      ];
    case 'kek-backup':
      return [['Key', params.keyId], shares(params)];
    case 'kek-recover':
      return [shares(params), ['Label', params.label]];
    case 'share-drill':
      return [shares(params)];
    case 'tr31-export':
      return [
        ['Key', params.keyId],
        ['Key block protection key', params.kbpkId],
      ];
    case 'tr31-import':
      return [
        ['Key block protection key', params.kbpkId],
        ['Label', params.label],
      ];
  }
}
