import { z } from 'zod';
// M-of-N shares: recovery and drills name the backup they are run against (the whole public record).
import { KekBackupRecordSchema } from './share-ops.std';
import { EXPORTABILITY, KEY_USAGES, MODES_OF_USE } from '../formats/tr31/fields.std';

/**
 * A key ceremony is a script: a declared sequence of steps, run in order, each by the people it
 * names. The script is data, built from a template and its parameters by a pure function, so the
 * same template and parameters always give the same script and the same hash: what custodians
 * review (and compare aloud) before the ceremony is what runs.
 */

export const CEREMONY_SCRIPT_FORMAT = 'mkm-ceremony-script';
export const CEREMONY_SCRIPT_VERSION = 1;

export const CEREMONY_TEMPLATES = [
  'form-key',
  'split-key',
  'kek-backup',
  'kek-recover',
  'share-drill',
  'tr31-export',
  'tr31-import',
] as const;
export type CeremonyTemplate = (typeof CEREMONY_TEMPLATES)[number];

export const CEREMONY_ROLES = ['administrator', 'witness', 'custodian'] as const;
export type CeremonyRole = (typeof CEREMONY_ROLES)[number];

export const STEP_KINDS = [
  'preflight',
  'identify',
  'enter-component',
  'form-key',
  'generate-key',
  'reveal-component',
  'reveal-share',
  'enter-share',
  'recover-key',
  'drill-share',
  'tr31-export',
  'tr31-import',
  'sign-off',
] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export const COMPONENT_KEY_TYPES = ['aes-128', 'aes-192', 'aes-256', 'tdes-2key', 'tdes-3key'] as const;
export type ComponentKeyType = (typeof COMPONENT_KEY_TYPES)[number];

/** The purposes a ceremony key may be formed for; each decides the attributes it gets. */
export const CEREMONY_KEY_PURPOSES = ['data', 'kek', 'kbpk', 'mac'] as const;
export type CeremonyKeyPurpose = (typeof CEREMONY_KEY_PURPOSES)[number];

/** A key label as a ceremony names it: printable ASCII, 1 to 64 characters. */
export const CEREMONY_LABEL = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[\x20-\x7e]+$/, 'printable ASCII');
const KEY_ID = z.string().regex(/^(?:[0-9a-f]{2}){1,128}$/, 'lowercase hex key id');
const COUNT = (min: number, max: number) => z.number().int().min(min).max(max);
// TR-31
const keysOf = <T extends Record<string, string>>(table: T) =>
  Object.keys(table) as [keyof T & string, ...(keyof T & string)[]];

export const TemplateParamsSchema = z.discriminatedUnion('template', [
  z.strictObject({
    template: z.literal('form-key'),
    keyType: z.enum(COMPONENT_KEY_TYPES),
    components: COUNT(2, 9),
    label: CEREMONY_LABEL,
    purpose: z.enum(CEREMONY_KEY_PURPOSES),
  }),
  z.strictObject({
    template: z.literal('split-key'),
    keyType: z.enum(COMPONENT_KEY_TYPES),
    components: COUNT(2, 9),
    label: CEREMONY_LABEL,
    purpose: z.enum(CEREMONY_KEY_PURPOSES),
  }),
  z.strictObject({
    template: z.literal('kek-backup'),
    keyId: KEY_ID,
    shares: COUNT(2, 16),
    threshold: COUNT(2, 16),
  }),
  z.strictObject({
    template: z.literal('kek-recover'),
    shares: COUNT(2, 16),
    threshold: COUNT(2, 16),
    label: CEREMONY_LABEL,
    backup: KekBackupRecordSchema, // M-of-N shares
  }),
  z.strictObject({
    template: z.literal('share-drill'),
    shares: COUNT(2, 16),
    threshold: COUNT(2, 16),
    backup: KekBackupRecordSchema, // M-of-N shares
  }),
  // TR-31 (tr31 branch): the header the exported block gets; the KBPK's type where the token cannot tell its size
  z.strictObject({
    template: z.literal('tr31-export'),
    keyId: KEY_ID,
    kbpkId: KEY_ID,
    usage: z.enum(keysOf(KEY_USAGES)),
    modeOfUse: z.enum(keysOf(MODES_OF_USE)),
    exportability: z.enum(keysOf(EXPORTABILITY)),
    version: z.enum(['D', 'B']).optional(),
    kbpkType: z.enum(COMPONENT_KEY_TYPES).optional(),
  }),
  z.strictObject({
    template: z.literal('tr31-import'),
    kbpkId: KEY_ID,
    label: CEREMONY_LABEL,
    kbpkType: z.enum(COMPONENT_KEY_TYPES).optional(),
  }),
]);
export type TemplateParams = z.infer<typeof TemplateParamsSchema>;

export interface ScriptStep {
  /** Stable within a script: `enter-component-2`; the journal records completion by id. */
  id: string;
  kind: StepKind;
  title: string;
  /** Who must act (authenticated) for the step to complete. */
  roles: CeremonyRole[];
  /** Two different people must both authenticate: the actor and a second (witness or admin). */
  dualControl: boolean;
  /** For component and share steps: which one (1-based). */
  index?: number;
  /** Creates objects on the token: their ids are journaled before they are made. */
  createsObjects?: boolean;
}

export interface CeremonyScript {
  format: typeof CEREMONY_SCRIPT_FORMAT;
  version: typeof CEREMONY_SCRIPT_VERSION;
  template: CeremonyTemplate;
  title: string;
  params: TemplateParams;
  /** How many custodians the script needs (distinct people). */
  custodians: number;
  steps: ScriptStep[];
}

const KEY_TYPE_NAMES: Record<ComponentKeyType, string> = {
  'aes-128': 'AES-128',
  'aes-192': 'AES-192',
  'aes-256': 'AES-256',
  'tdes-2key': 'TDES (2-key)',
  'tdes-3key': 'TDES (3-key)',
};

const preflight: ScriptStep = {
  id: 'preflight',
  kind: 'preflight',
  title: 'Air-gap preflight: the app’s hash, the token, no network, no gateway',
  roles: ['administrator', 'witness'],
  dualControl: true,
};
const identify: ScriptStep = {
  id: 'identify',
  kind: 'identify',
  title: 'Identify every participant; each sets the passphrase they will sign with',
  roles: ['administrator', 'witness'],
  dualControl: true,
};
const signOff: ScriptStep = {
  id: 'sign-off',
  kind: 'sign-off',
  title: 'Every participant signs off; the transcript is signed on the token',
  roles: ['administrator', 'witness', 'custodian'],
  dualControl: true,
};

function numbered(
  kind: StepKind,
  count: number,
  title: (i: number) => string,
  extra: Partial<ScriptStep> = {},
) {
  return Array.from({ length: count }, (_, k): ScriptStep => ({
    id: `${kind}-${k + 1}`,
    kind,
    title: title(k + 1),
    roles: ['custodian'],
    dualControl: true,
    index: k + 1,
    ...extra,
  }));
}

// M-of-N shares: the counts the script shows are the backup record's own.
function sameBackup(p: {
  shares: number;
  threshold: number;
  backup: { backup: { count: number; threshold: number } };
}) {
  if (p.backup.backup.count !== p.shares || p.backup.backup.threshold !== p.threshold) {
    throw new RangeError('the shares and threshold differ from the backup record’s');
  }
}

/** The script a template and its parameters make. Throws a RangeError for impossible counts. */
export function buildScript(params: TemplateParams): CeremonyScript {
  const base = { format: CEREMONY_SCRIPT_FORMAT, version: CEREMONY_SCRIPT_VERSION } as const;
  switch (params.template) {
    case 'form-key':
      return {
        ...base,
        template: params.template,
        title: `Form ${KEY_TYPE_NAMES[params.keyType]} key “${params.label}” from ${params.components} components`,
        params,
        custodians: params.components,
        steps: [
          preflight,
          identify,
          ...numbered(
            'enter-component',
            params.components,
            (i) => `Custodian ${i} enters component ${i} and confirms its check value`,
          ),
          {
            id: 'form-key',
            kind: 'form-key',
            title: 'Combine the components in the token; compare the key’s check value',
            roles: ['administrator', 'witness'],
            dualControl: true,
            createsObjects: true,
          },
          signOff,
        ],
      };
    case 'split-key':
      return {
        ...base,
        template: params.template,
        title: `Generate ${KEY_TYPE_NAMES[params.keyType]} key “${params.label}” and split it into ${params.components} components`,
        params,
        custodians: params.components,
        steps: [
          preflight,
          identify,
          {
            id: 'generate-key',
            kind: 'generate-key',
            title: 'Generate the key on the token',
            roles: ['administrator', 'witness'],
            dualControl: true,
            createsObjects: true,
          },
          ...numbered(
            'reveal-component',
            params.components,
            (i) => `Custodian ${i} alone views component ${i} and its check value`,
          ),
          signOff,
        ],
      };
    case 'kek-backup':
      if (params.threshold > params.shares)
        throw new RangeError('the threshold exceeds the number of shares');
      return {
        ...base,
        template: params.template,
        title: `Back up key ${params.keyId} as ${params.threshold}-of-${params.shares} shares`,
        params,
        custodians: params.shares,
        steps: [
          preflight,
          identify,
          ...numbered('reveal-share', params.shares, (i) => `Custodian ${i} alone receives share ${i}`),
          signOff,
        ],
      };
    case 'kek-recover':
      if (params.threshold > params.shares)
        throw new RangeError('the threshold exceeds the number of shares');
      sameBackup(params); // M-of-N shares
      return {
        ...base,
        template: params.template,
        title: `Recover key “${params.label}” from ${params.threshold} of ${params.shares} shares`,
        params,
        custodians: params.threshold,
        steps: [
          preflight,
          identify,
          ...numbered('enter-share', params.threshold, (i) => `Custodian ${i} enters their share`),
          {
            id: 'recover-key',
            kind: 'recover-key',
            title: 'Recover the key into the token; compare its check value',
            roles: ['administrator', 'witness'],
            dualControl: true,
            createsObjects: true,
          },
          signOff,
        ],
      };
    case 'share-drill':
      if (params.threshold > params.shares)
        throw new RangeError('the threshold exceeds the number of shares');
      sameBackup(params); // M-of-N shares
      return {
        ...base,
        template: params.template,
        title: `Drill: check ${params.shares} shares without recovering the key`,
        params,
        custodians: params.shares,
        steps: [
          preflight,
          identify,
          ...numbered('drill-share', params.shares, (i) => `Custodian ${i} presents share ${i} for checking`),
          signOff,
        ],
      };
    case 'tr31-export':
      return {
        ...base,
        template: params.template,
        title: `Export key ${params.keyId} as a TR-31 key block (${params.usage}, mode ${params.modeOfUse}, exportability ${params.exportability}) under ${params.kbpkId}`,
        params,
        custodians: 0,
        steps: [
          preflight,
          identify,
          {
            id: 'tr31-export',
            kind: 'tr31-export',
            title: 'Wrap the key into a key block; read its check values aloud',
            roles: ['administrator', 'witness'],
            dualControl: true,
          },
          signOff,
        ],
      };
    case 'tr31-import':
      return {
        ...base,
        template: params.template,
        title: `Import a TR-31 key block under ${params.kbpkId} as “${params.label}”`,
        params,
        custodians: 0,
        steps: [
          preflight,
          identify,
          {
            id: 'tr31-import',
            kind: 'tr31-import',
            title: 'Check the block and load its key into the token; compare its check value',
            roles: ['administrator', 'witness'],
            dualControl: true,
            createsObjects: true,
          },
          signOff,
        ],
      };
  }
}

/** Templates as the app offers them: name, what it does, and the parameters it asks for. */
export const TEMPLATE_DESCRIPTIONS: Record<CeremonyTemplate, string> = {
  'form-key': 'Form a key from 2 to 9 clear components, each entered by its own custodian (split knowledge).',
  'split-key': 'Generate a key on the token and give each custodian one component of it.',
  'kek-backup': 'Back up a key-encryption key as M-of-N shares, one per custodian.',
  'kek-recover': 'Recover a key-encryption key into the token from M of its N shares.',
  'share-drill': 'Check that every share of a backup is still good, without recovering the key.',
  'tr31-export': 'Export a key as a TR-31 / X9.143 key block under a key block protection key.',
  'tr31-import': 'Import a TR-31 / X9.143 key block into the token under its protection key.',
};

/** The preflight step's input: an override, recorded by the administrator with the witness, with its reason. */
export const PreflightInputSchema = z.strictObject({
  override: z.strictObject({ reason: z.string().trim().min(8).max(200) }).optional(),
});
