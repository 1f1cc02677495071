import { z } from 'zod';
import { channel, CONFIRMED, noArgs } from '../contract-kit.std';
import {
  KEY_STATES,
  MANAGED_KEY_TYPES,
  TOKEN_PURPOSES,
  type DueLevel,
  type KeyState,
  type ManagedKeyType,
  type ManagedPurpose,
} from '../lifecycle/vocabulary.std';
import { SlotIdSchema, type ObjectClassSchema } from '../tokens.std';

/**
 * The key lifecycle (`lifecycle.*`): managed logical keys, their versions, rotation and use.
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */

const LIFECYCLE_ID = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

/** One version of a logical key: metadata only, never key material. */
export interface LifecycleVersionView {
  id: string;
  logicalKeyId: string;
  version: number;
  label: string;
  state: KeyState;
  primary: boolean;
  origin: 'generated' | 'adopted' | 'imported';
  type: ManagedKeyType;
  tokenSerial: string | null;
  ckaId: string | null;
  createdAt: string;
  activatedAt: string | null;
  expiresAt: string | null;
  graceUntil: string | null;
  deactivatedAt: string | null;
  suspendedAt: string | null;
  compromisedAt: string | null;
  destroyedAt: string | null;
  cryptoPeriodDays: number;
  /** Every use counted on every path (pending ones included). */
  useCount: number;
  /**
   * Where useCount stands against the key's use limit: warning from its warnUsesFraction,
   * reached at the limit (new uses refused). Set in lifecycle.list.
   */
  useLevel?: 'ok' | 'warning' | 'reached';
  fingerprint:
    { kind: 'kcv'; method: 'cmac' | 'hmac'; value: string } | { kind: 'spki-sha256'; value: string } | null;
  /** Why there is no fingerprint, e.g. "KCV not available on this token: <reason>". */
  fingerprintNote?: string;
  gateway: {
    status: 'not-required' | 'pending' | 'registered' | 'failed' | 'skipped' | 'retirePending' | 'retired';
    reference: string | null;
    /** The last error code of a registration or retirement call, if it failed. */
    error: string | null;
  };
  missingSince: string | null;
  destroyPending: boolean;
}

export interface LifecycleKeyView {
  id: string;
  name: string;
  purpose: ManagedPurpose;
  type: ManagedKeyType;
  tokenSerial: string | null;
  createdAt: string;
  /** The effective rotation policy. */
  policy: {
    cryptoPeriodDays: number;
    maxUses: number | null;
    warnDays: number;
    warnUsesFraction: number;
    graceDays: number;
  };
  primaryVersionId: string | null;
  /** A rotation is in flight (resume or rotate finishes it). */
  rotating: boolean;
  /** Newest first; only those in the requested state when list was asked for one. */
  versions: LifecycleVersionView[];
}

export interface LifecycleDueReport {
  due: {
    logicalKeyId: string;
    name: string;
    purpose: ManagedPurpose;
    versionId: string | null;
    level: DueLevel;
    reasons: (
      | { kind: 'age'; level: DueLevel; expiresAt: string; daysLeft: number }
      | { kind: 'uses'; level: DueLevel; uses: number; maxUses: number }
      | { kind: 'no-primary'; level: 'overdue' }
      | { kind: 'compromised'; level: 'overdue'; versionId: string }
    )[];
    rotatable: boolean;
  }[];
  graceExpired: { logicalKeyId: string; versionId: string; graceUntil: string }[];
  /**
   * Rotations the inventory's journal shows in flight. A reader while another process holds the
   * keys reports them as they are (that process finishes them); it never recovers them.
   */
  rotationsInFlight: {
    logicalKeyId: string;
    name: string;
    rotationId: string;
    step: string;
    startedAt: string;
  }[];
}

export interface LifecycleReconcileReport {
  tokenSerial: string;
  missing: { versionId: string; logicalKeyId: string; ckaId: string; since: string }[];
  found: string[];
  unmanaged: {
    ckaId: string;
    classes: z.infer<typeof ObjectClassSchema>[];
    label: string;
    keyType: string | null;
    bits: number | null;
  }[];
  /** mkm's own keys (audit sealing key, gateway key sets): known, never adoptable. */
  system: {
    ckaId: string;
    classes: z.infer<typeof ObjectClassSchema>[];
    label: string;
    kind: 'audit' | 'gateway-key-set' | 'session';
  }[];
  pendingRotation: { rotationId: string; ckaId: string; label: string }[];
}

export type LifecyclePolicy = LifecycleKeyView['policy'];

/** How a logical key's versions were used (issue 12): counts only, never key material. */
export interface LifecycleUsageView {
  logicalKeyId: string;
  name: string;
  purpose: ManagedPurpose;
  maxUses: number | null;
  warnUsesFraction: number;
  /** The first day the `days` lists start at (YYYY-MM-DD), or null for all that is kept. */
  since: string | null;
  /** Newest first. */
  versions: {
    versionId: string;
    version: number;
    state: KeyState;
    primary: boolean;
    /** Every use counted, pending ones included. */
    uses: number;
    /** ok, warning (from warnUsesFraction of maxUses), reached (at maxUses: refused). */
    level: 'ok' | 'warning' | 'reached';
    lastAt: string | null;
    lastOperation: string | null;
    operations: Record<string, number>;
    /** Uses per UTC day, oldest first; days without a use are left out. */
    days: { day: string; uses: number }[];
  }[];
}

/** Uses of a key the inventory does not manage: mkm's audit keys (seals) and pinned gateway keys. */
export interface LifecycleSystemUsageView {
  auditKeys: ({ id: string; kcv: string } & SystemKeyUses)[];
  gatewayKeys: ({ fingerprint: string } & SystemKeyUses)[];
}
export interface SystemKeyUses {
  uses: number;
  lastAt: string | null;
  lastOperation: string | null;
  operations: Record<string, number>;
}

/** A logical key's own policy: each field overrides its purpose's default. */
const LIFECYCLE_POLICY_OVERRIDES = z.strictObject({
  cryptoPeriodDays: z.number().int().min(1).max(36500).optional(),
  maxUses: z.number().int().min(1).max(1e15).nullable().optional(),
  warnDays: z.number().int().min(0).max(3650).optional(),
  warnUsesFraction: z.number().min(0).max(1).optional(),
  graceDays: z.number().int().min(0).max(3650).optional(),
});

/** The renderer's id for the `progress` events of one rotation (default: the call id). */
const OPERATION_ID = { operationId: z.string().min(1).max(64).optional() };

/** Which logged-in token: the one in this slot, else the only one logged in. */
const LIFECYCLE_SLOT = { slotId: SlotIdSchema.optional() };

export const lifecycleContract = {
  list: channel(
    z.strictObject({ state: z.enum(KEY_STATES).optional() }),
    'Managed logical keys with their versions, states and fingerprints (never key material).',
  )
    .returns<LifecycleKeyView[]>()
    .notAudited('reads the key inventory (metadata only)'),
  create: channel(
    z.strictObject({
      name: z.string().min(1).max(128),
      purpose: z.enum(TOKEN_PURPOSES),
      type: z.enum(MANAGED_KEY_TYPES).optional(),
      policy: LIFECYCLE_POLICY_OVERRIDES.optional(),
      /** Keep the wider usage the token insists on (KEY_TEMPLATE_REFUSED otherwise); audited. */
      acceptWiderUsage: z.boolean().optional(),
      ...LIFECYCLE_SLOT,
      ...OPERATION_ID,
    }),
    'A new managed logical key; its version 1 is generated on the logged-in token.',
  )
    .returns<{ logicalKey: LifecycleKeyView; version: LifecycleVersionView }>()
    .recordsItself(),
  rotate: channel(
    z.strictObject({
      ref: z.string().min(1).max(128),
      acceptWiderUsage: z.boolean().optional(),
      ...OPERATION_ID,
    }),
    'Rotate a logical key (by id or name) now: a new primary version, the old one in grace (progress events per step).',
  )
    .returns<{ logicalKey: LifecycleKeyView; version: LifecycleVersionView }>()
    .recordsItself(),
  compromise: channel(
    z.strictObject({ versionId: LIFECYCLE_ID, note: z.string().max(500).optional(), ...OPERATION_ID }),
    'Declare a key version compromised; a compromised primary is replaced at once.',
  )
    .returns<{ compromised: LifecycleVersionView; replacement: LifecycleVersionView | null }>()
    .recordsItself(),
  destroy: channel(
    z.strictObject({
      versionId: LIFECYCLE_ID,
      confirm: CONFIRMED,
      confirmLabel: z.string().min(1).max(128),
    }),
    'Destroy a key version on the token (label typed again); the record stays as a tombstone.',
  )
    .returns<LifecycleVersionView>()
    .recordsItself(),
  deactivate: channel(
    z.strictObject({ versionId: LIFECYCLE_ID }),
    'End the use of a replaced version for new work (it still decrypts and verifies).',
  )
    .returns<LifecycleVersionView>()
    .recordsItself(),
  suspend: channel(
    z.strictObject({ versionId: LIFECYCLE_ID }),
    'Suspend a non-primary version (no use at all) until it is reactivated.',
  )
    .returns<LifecycleVersionView>()
    .recordsItself(),
  reactivate: channel(
    z.strictObject({ versionId: LIFECYCLE_ID }),
    'Bring a suspended version back to active.',
  )
    .returns<LifecycleVersionView>()
    .recordsItself(),
  policies: channel(
    noArgs,
    'The rotation policy of each purpose (crypto-period, use limit, warning lead, grace).',
  )
    .returns<Record<ManagedPurpose, LifecyclePolicy>>()
    .notAudited('reads the rotation policies'),
  usage: channel(
    z.strictObject({
      ref: z.string().min(1).max(128),
      since: z
        .string()
        .regex(/^\d{4}-\d{2}-\d{2}$/)
        .optional(),
    }),
    'How each version of a logical key (by id or name) was used: per day, per operation, last use, and where it stands against its use limit.',
  )
    .returns<LifecycleUsageView>()
    .notAudited('reads use counts (no key material, no data)'),
  systemUsage: channel(
    noArgs,
    "How mkm's own keys were used: each audit key's seals and each pinned gateway key's encryptions.",
  )
    .returns<LifecycleSystemUsageView>()
    .notAudited('reads use counts (no key material, no data)'),
  due: channel(noArgs, 'Which keys need rotating, and why.')
    .returns<LifecycleDueReport>()
    .notAudited('reads which keys need rotating'),
  reconcile: channel(
    z.strictObject(LIFECYCLE_SLOT),
    'Compare the inventory with the logged-in token: missing objects and unmanaged keys.',
  )
    .returns<LifecycleReconcileReport>()
    .notAudited('compares the inventory with the token and changes neither'),
  adopt: channel(
    z.strictObject({
      ckaId: z
        .string()
        .regex(/^(?:[0-9a-fA-F]{2})+$/)
        .max(256),
      purpose: z.enum(TOKEN_PURPOSES),
      name: z.string().min(1).max(128).optional(),
      ...LIFECYCLE_SLOT,
    }),
    'Make an unmanaged key on the logged-in token the active version of a new logical key.',
  )
    .returns<LifecycleVersionView>()
    .recordsItself(),
} as const;
