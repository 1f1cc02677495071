import { MkmError } from '../errors.std';
import type { KeyCheckMethod } from '../tokens.std';
import { formatKcv } from '../wording.std';
import { componentChecksum, componentGroups } from './component-entry.std';
import {
  checkComponent,
  checkComponentCount,
  componentKeyTypeName,
  type ComponentKeyType,
  ComponentKeyTypeSchema,
  isTdes,
} from './components.std';
import { KCV_LENGTHS, KCV_METHOD_TEXT, kcvLength, type LabelledKcv } from './kcv-methods.std';

/**
 * What a printed key component sheet says (one per custodian, issue 11 point 3), and the
 * summary shown once a key is formed: data only, so the PDF, the screen and the tests read the
 * same content. A sheet holds a clear component: it is built for printing to its custodian and
 * never logged, stored or sent to the renderer of another custodian. The summary holds KCVs
 * only; its input has no place for a component.
 */

/** A KCV as a sheet prints it: upper-case value, its method and what the method is. */
export interface SheetKcv {
  value: string;
  method: KeyCheckMethod;
  methodText: string;
}

export interface Person {
  name: string;
  role: string;
}

export interface SignatureLine {
  role: 'custodian' | 'witness' | 'administrator';
  caption: string;
  /** Printed under the line; null leaves it to be written by hand. */
  name: string | null;
}

export interface ComponentSheet {
  kind: 'component-sheet';
  /** It holds a clear component: a marker any store or log check can refuse on. */
  secret: true;
  title: string;
  ceremonyId: string;
  /** YYYY-MM-DD, UTC. */
  date: string;
  key: { label: string; type: ComponentKeyType; typeText: string; kcvs: SheetKcv[] };
  component: { index: number; count: number; groups: string[]; checksum: string; kcvs: SheetKcv[] };
  custodian: Person;
  signatures: SignatureLine[];
  instructions: string[];
}

export interface ComponentSheetInput {
  ceremonyId: string;
  keyLabel: string;
  keyType: ComponentKeyType;
  /** The clear component; read, not kept (the caller wipes it). */
  component: Uint8Array;
  /** 1-based, of `count`. */
  index: number;
  count: number;
  componentKcvs: readonly LabelledKcv[];
  /** The key's KCVs: computed when it was split, or `token`, read from the token. */
  keyKcvs: readonly LabelledKcv[];
  custodian: Person;
  witness?: Person | null;
  administrator?: Person | null;
  date: Date;
}

export interface FormKeySummary {
  kind: 'form-key-summary';
  ceremonyId: string;
  date: string;
  key: { label: string; type: ComponentKeyType; typeText: string; kcvs: SheetKcv[] };
  components: { index: number; custodian: Person | null; kcvs: SheetKcv[] }[];
  notes: string[];
}

export interface FormKeySummaryInput {
  ceremonyId: string;
  keyLabel: string;
  keyType: ComponentKeyType;
  /** In the order they were entered: KCVs only, never a component. */
  components: readonly { custodian?: Person | null; kcvs: readonly LabelledKcv[] }[];
  keyKcvs: readonly LabelledKcv[];
  date: Date;
}

const MAX_TEXT = 128;

function text(value: unknown, field: string): string {
  const trimmed = typeof value === 'string' ? value.trim() : '';
  // eslint-disable-next-line no-control-regex
  if (trimmed.length === 0 || trimmed.length > MAX_TEXT || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new MkmError('VALIDATION', `The ${field} must be 1 to ${MAX_TEXT} printable characters.`, {
      field,
    });
  }
  return trimmed;
}

function person(value: Person | null | undefined, field: string): Person | null {
  if (value === null || value === undefined) return null;
  return { name: text(value.name, `${field} name`), role: text(value.role, `${field} role`) };
}

function isoDate(date: Date): string {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new MkmError('VALIDATION', 'The date of the sheet is not a valid date.', { field: 'date' });
  }
  return date.toISOString().slice(0, 10);
}

function keyType(type: ComponentKeyType): ComponentKeyType {
  const parsed = ComponentKeyTypeSchema.safeParse(type);
  if (!parsed.success)
    throw new MkmError('VALIDATION', 'The key type is not one a key can be formed of.', { field: 'keyType' });
  return parsed.data;
}

/**
 * KCVs as printed, each checked: a method that applies to the key type (`token` only where the
 * key is on a token), a value of that method's length, no method twice.
 */
function sheetKcvs(
  type: ComponentKeyType,
  kcvs: readonly LabelledKcv[],
  field: string,
  tokenAllowed: boolean,
): SheetKcv[] {
  if (kcvs.length === 0) throw new MkmError('VALIDATION', `The ${field} needs at least one KCV.`, { field });
  const seen = new Set<KeyCheckMethod>();
  return kcvs.map(({ kcv, method }) => {
    const digits = typeof kcv === 'string' && /^[0-9a-fA-F]+$/.test(kcv) ? kcv.length : 0;
    if (digits % 2 !== 0) throw new MkmError('KCV_LENGTH_INVALID', undefined, { field, method });
    if (method !== 'token' || !tokenAllowed) kcvLength(type, method, digits / 2);
    else if (digits !== 2 * KCV_LENGTHS.token.max)
      throw new MkmError('KCV_LENGTH_INVALID', undefined, { field, method });
    if (seen.has(method))
      throw new MkmError('VALIDATION', `The ${field} has two ${method} KCVs.`, { field, method });
    seen.add(method);
    return { value: formatKcv(kcv), method, methodText: KCV_METHOD_TEXT[method] };
  });
}

/** The key as both a sheet and a summary show it; its KCVs may be the token's own. */
function sheetKey(
  type: ComponentKeyType,
  label: string,
  kcvs: readonly LabelledKcv[],
): ComponentSheet['key'] {
  return {
    label: text(label, 'key label'),
    type,
    typeText: componentKeyTypeName(type),
    kcvs: sheetKcvs(type, kcvs, 'key', true),
  };
}

function checkIndex(index: number, count: number): void {
  checkComponentCount(count);
  if (!Number.isInteger(index) || index < 1 || index > count) {
    throw new MkmError('VALIDATION', `The component number must be 1 to ${count}.`, { field: 'index' });
  }
}

/** The content of the sheet one custodian is given with their component. */
export function componentSheet(input: ComponentSheetInput): ComponentSheet {
  const type = keyType(input.keyType);
  checkIndex(input.index, input.count);
  checkComponent(type, input.component, input.index);
  const custodian = person(input.custodian, 'custodian');
  if (!custodian)
    throw new MkmError('VALIDATION', 'A component sheet names its custodian.', { field: 'custodian' });
  const witness = person(input.witness, 'witness');
  const administrator = person(input.administrator, 'administrator');
  return {
    kind: 'component-sheet',
    secret: true,
    title: `Key component ${input.index} of ${input.count}`,
    ceremonyId: text(input.ceremonyId, 'ceremony id'),
    date: isoDate(input.date),
    key: sheetKey(type, input.keyLabel, input.keyKcvs),
    component: {
      index: input.index,
      count: input.count,
      groups: componentGroups(input.component),
      checksum: componentChecksum(input.component),
      kcvs: sheetKcvs(type, input.componentKcvs, 'component', false),
    },
    custodian,
    signatures: [
      {
        role: 'custodian',
        caption: `Custodian of component ${input.index}: received and sealed`,
        name: custodian.name,
      },
      { role: 'witness', caption: 'Witness', name: witness?.name ?? null },
      { role: 'administrator', caption: 'Ceremony administrator', name: administrator?.name ?? null },
    ],
    instructions: [
      `This sheet holds a secret key component. Only ${custodian.name} may read it.`,
      'When you enter it, compare the checksum shown with the one above, then the component KCV.',
      'Keep it sealed in a tamper-evident envelope in your own safe. Never copy, photograph or type it anywhere else.',
    ],
  };
}

/** What the screen shows once a key is formed: each component's KCVs and the key's, no component. */
export function formKeySummary(input: FormKeySummaryInput): FormKeySummary {
  const type = keyType(input.keyType);
  checkComponentCount(input.components.length);
  const notes = [`Formed from ${input.components.length} components by XOR.`];
  // formKey sets odd parity on every TDES key it forms.
  if (isTdes(type)) notes.push('The formed TDES key was set to odd parity.');
  return {
    kind: 'form-key-summary',
    ceremonyId: text(input.ceremonyId, 'ceremony id'),
    date: isoDate(input.date),
    key: sheetKey(type, input.keyLabel, input.keyKcvs),
    components: input.components.map((c, i) => ({
      index: i + 1,
      custodian: person(c.custodian, `custodian ${i + 1}`),
      kcvs: sheetKcvs(type, c.kcvs, `component ${i + 1}`, false),
    })),
    notes,
  };
}
