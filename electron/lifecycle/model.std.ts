import { z } from 'zod';
import { MkmError } from '../../shared/errors.std';
import {
  KEY_STATES,
  MANAGED_KEY_TYPES,
  MANAGED_PURPOSES,
  type DueLevel,
  type KeyState,
  type ManagedKeyType,
  type ManagedPurpose,
} from '../../shared/lifecycle/vocabulary.std';

/**
 * The key lifecycle model: what the inventory stores, the states of NIST SP 800-57 Part 1 §7,
 * rotation policies per purpose and the versioned ciphertext envelope. Pure: no Node built-ins,
 * no clock (every function that needs "now" takes it).
 */

// ---------------------------------------------------------------- per purpose

export const DEFAULT_KEY_TYPE: Record<ManagedPurpose, ManagedKeyType> = {
  'gateway-transport': 'rsa-2048',
  'gateway-public': 'rsa-2048',
  data: 'aes-256',
  kek: 'aes-256',
  hmac: 'hmac-256',
  signing: 'rsa-2048',
  audit: 'hmac-256',
};

/** Which purposes the gateway must be told about before a new version becomes primary. */
export const NEEDS_GATEWAY_REGISTRATION: Record<ManagedPurpose, boolean> = {
  'gateway-transport': true,
  'gateway-public': false,
  data: false,
  kek: false,
  hmac: false,
  signing: false,
  audit: false,
};

// ---------------------------------------------------------------- records (schema v2)

const Iso = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/, 'ISO-8601 UTC time');
const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'uuid');
const Hex = z.string().regex(/^(?:[0-9a-f]{2})*$/, 'lowercase hex');

export const FingerprintSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('spki-sha256'), value: z.string().regex(/^[0-9a-f]{64}$/) }).strict(),
  z.object({ kind: z.literal('kcv'), method: z.enum(['cmac', 'hmac']), value: Hex.min(6).max(16) }).strict(),
]);
export type Fingerprint = z.infer<typeof FingerprintSchema>;

export const GatewayStatusSchema = z
  .object({
    /**
     * not-required: the purpose needs no registration; skipped: no gateway hook was configured.
     * retirePending: a registered version left service and the gateway has not been told yet
     * (the next resume() or sweep() retries); retired: the gateway was told.
     */
    status: z.enum([
      'not-required',
      'pending',
      'registered',
      'failed',
      'skipped',
      'retirePending',
      'retired',
    ]),
    /** What the gateway calls the key (key set id), filled by the gateway part. */
    reference: z.string().max(256).nullable(),
    updatedAt: Iso.nullable(),
    /** Last error code from the hook, never a message that may quote a secret. */
    error: z.string().max(64).nullable(),
  })
  .strict();
export type GatewayStatus = z.infer<typeof GatewayStatusSchema>;

export const ObjectClassSchema = z.enum(['secret', 'private', 'public', 'certificate', 'data', 'other']);

export const KeyVersionSchema = z
  .object({
    id: Uuid,
    logicalKeyId: Uuid,
    version: z.number().int().min(1),
    label: z.string().min(1).max(128),
    /** Token serial; null for gateway-public (no token object). */
    tokenSerial: z.string().max(64).nullable(),
    /** CKA_ID (hex); null before generation and for gateway-public. */
    ckaId: Hex.max(256).nullable(),
    objectClasses: z.array(ObjectClassSchema).max(4),
    type: z.enum(MANAGED_KEY_TYPES),
    purpose: z.enum(MANAGED_PURPOSES),
    state: z.enum(KEY_STATES),
    primary: z.boolean(),
    origin: z.enum(['generated', 'adopted', 'imported']),
    createdAt: Iso,
    activatedAt: Iso.nullable(),
    /** End of the originator-usage period (activation + crypto-period). */
    expiresAt: Iso.nullable(),
    /** Until when a replaced version stays active (decrypt/verify) before it is deactivated. */
    graceUntil: Iso.nullable(),
    deactivatedAt: Iso.nullable(),
    suspendedAt: Iso.nullable(),
    compromisedAt: Iso.nullable(),
    destroyedAt: Iso.nullable(),
    cryptoPeriodDays: z.number().int().min(1).max(36500),
    useCount: z.number().int().min(0),
    fingerprint: FingerprintSchema.nullable(),
    /** Why there is no fingerprint (a token without the KCV's mechanism); absent otherwise. */
    fingerprintNote: z.string().max(512).optional(),
    gateway: GatewayStatusSchema,
    /** gateway-public only: the imported key. Public material, never a secret. */
    publicKeyPem: z.string().max(16384).nullable(),
    /** Set by reconcile when the token object is gone; cleared when it is seen again. */
    missingSince: Iso.nullable(),
    /** destroy() was asked and journaled; resume() finishes it. */
    destroyPending: z.boolean(),
  })
  .strict();
export type KeyVersion = z.infer<typeof KeyVersionSchema>;

export const PolicySchema = z
  .object({
    cryptoPeriodDays: z.number().int().min(1).max(36500),
    /** null: no use limit. */
    maxUses: z.number().int().min(1).nullable(),
    /** Warn this many days before the crypto-period ends. */
    warnDays: z.number().int().min(0).max(3650),
    /** Warn at this fraction of maxUses. */
    warnUsesFraction: z.number().min(0).max(1),
    /** How long a replaced version stays active (decrypt/verify) before it is deactivated. */
    graceDays: z.number().int().min(0).max(3650),
  })
  .strict();
export type RotationPolicy = z.infer<typeof PolicySchema>;

export const LogicalKeySchema = z
  .object({
    id: Uuid,
    name: z.string().min(1).max(128),
    purpose: z.enum(MANAGED_PURPOSES),
    type: z.enum(MANAGED_KEY_TYPES),
    tokenSerial: z.string().max(64).nullable(),
    createdAt: Iso,
    /** Overrides of the purpose's default policy. */
    policy: PolicySchema.partial().strict(),
  })
  .strict();
export type LogicalKey = z.infer<typeof LogicalKeySchema>;

export const ROTATION_STEPS = ['planned', 'generated', 'registering', 'registered', 'promoted'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/**
 * One rotation in flight. It lives in the inventory file, so the journal step and the inventory
 * change it describes are made durable by the same atomic write.
 */
export const RotationSchema = z
  .object({
    id: Uuid,
    logicalKeyId: Uuid,
    reason: z.enum(['initial', 'manual', 'scheduled', 'compromise']),
    fromVersionId: Uuid.nullable(),
    newVersionId: Uuid,
    /** Chosen in the plan: how a resumed step finds an object it already created. */
    label: z.string().min(1).max(128),
    step: z.enum(ROTATION_STEPS),
    startedAt: Iso,
    updatedAt: Iso,
  })
  .strict();
export type Rotation = z.infer<typeof RotationSchema>;

export const HistorySchema = z
  .object({
    rotationId: Uuid,
    logicalKeyId: Uuid,
    fromVersionId: Uuid.nullable(),
    newVersionId: Uuid,
    reason: RotationSchema.shape.reason,
    outcome: z.enum(['completed', 'rolled-back']),
    startedAt: Iso,
    finishedAt: Iso,
    resumed: z.boolean(),
  })
  .strict();
export type RotationHistory = z.infer<typeof HistorySchema>;

export const InventoryDataSchema = z
  .object({
    logicalKeys: z.array(LogicalKeySchema),
    versions: z.array(KeyVersionSchema),
    rotations: z.array(RotationSchema),
    history: z.array(HistorySchema),
  })
  .strict();
export type InventoryData = z.infer<typeof InventoryDataSchema>;

export const EMPTY_INVENTORY: InventoryData = { logicalKeys: [], versions: [], rotations: [], history: [] };

/**
 * What a schema cannot say. A file that breaks one of these was not written by this code.
 * Returns the first problem, or null.
 */
export function inventoryProblem(data: InventoryData): string | null {
  const logical = new Map(data.logicalKeys.map((k) => [k.id, k]));
  if (logical.size !== data.logicalKeys.length) return 'two logical keys share an id';
  const ids = new Set<string>();
  const numbers = new Set<string>();
  const primaries = new Map<string, number>();
  const objects = new Set<string>();
  for (const v of data.versions) {
    if (ids.has(v.id)) return `version ${v.id} appears twice`;
    ids.add(v.id);
    const key = logical.get(v.logicalKeyId);
    if (!key) return `version ${v.id} belongs to no logical key`;
    if (key.purpose !== v.purpose) return `version ${v.id} has another purpose than its logical key`;
    const n = `${v.logicalKeyId}/${v.version}`;
    if (numbers.has(n)) return `logical key ${v.logicalKeyId} has version ${v.version} twice`;
    numbers.add(n);
    if (v.primary) {
      if (v.state !== 'active') return `primary version ${v.id} is ${v.state}`;
      primaries.set(v.logicalKeyId, (primaries.get(v.logicalKeyId) ?? 0) + 1);
    }
    if (v.ckaId !== null && v.state !== 'destroyed') {
      const o = `${v.tokenSerial}/${v.ckaId}`;
      if (objects.has(o)) return `two versions name the same token object ${v.ckaId}`;
      objects.add(o);
    }
  }
  for (const [id, count] of primaries) if (count > 1) return `logical key ${id} has ${count} primaries`;
  const rotating = new Set<string>();
  for (const r of data.rotations) {
    if (rotating.has(r.logicalKeyId)) return `logical key ${r.logicalKeyId} has two rotations in flight`;
    rotating.add(r.logicalKeyId);
    if (!ids.has(r.newVersionId)) return `rotation ${r.id} names an unknown new version`;
  }
  return null;
}

// ---------------------------------------------------------------- states

/**
 * Allowed transitions (SP 800-57 Pt 1 Rev 5 figure 3). Compromise is possible from every state
 * but destroyed; destruction from pre-activation, deactivated and compromised only, so an
 * active key is always deactivated (or declared compromised) first.
 */
const TRANSITIONS: Record<KeyState, readonly KeyState[]> = {
  'pre-activation': ['active', 'compromised', 'destroyed'],
  active: ['suspended', 'deactivated', 'compromised'],
  suspended: ['active', 'deactivated', 'compromised'],
  deactivated: ['compromised', 'destroyed'],
  compromised: ['destroyed'],
  destroyed: [],
};

export function canTransition(from: KeyState, to: KeyState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(version: Pick<KeyVersion, 'id' | 'state'>, to: KeyState): void {
  if (!canTransition(version.state, to)) {
    throw new MkmError('CONFLICT', `A ${version.state} key cannot become ${to}.`, {
      versionId: version.id,
      from: version.state,
      to,
    });
  }
}

/** Apply protection (encrypt, sign, MAC): the primary only, and only while active. */
export function mayProtect(v: KeyVersion): boolean {
  return v.state === 'active' && v.primary && v.missingSince === null;
}

/**
 * Process protected data (decrypt, verify): active and deactivated versions (§5.3.4: a key past
 * its originator-usage period may still process), not suspended, compromised or destroyed.
 */
export function mayProcess(v: KeyVersion): boolean {
  return v.state === 'active' || v.state === 'deactivated';
}

// ---------------------------------------------------------------- policies

const DAY_MS = 86_400_000;

/**
 * Defaults, after SP 800-57 Pt 1 Rev 5 table 1 and PCI DSS v4 3.6.4 (a defined crypto-period per
 * key type). They are a starting point an admin shortens per logical key, never lengthens past
 * what the standard suggests:
 * - data (AES-256 symmetric data-encryption): 1 year originator usage; at most 100 million
 *   encryptions (AES-CBC with random IVs is safe far beyond that; the limit bounds exposure);
 * - gateway-transport / gateway-public (RSA key transport): 1 year; the gateway keeps the old
 *   key for 7 days of in-flight traffic;
 * - kek (symmetric key-wrapping): 2 years; hmac (symmetric authentication): 2 years;
 * - signing (private signature key): 2 years; audit (HMAC sealing key): 1 year.
 * Warnings start 30 days before the period ends or at 80 % of the use limit (issue 12).
 */
export const DEFAULT_POLICIES: Readonly<Record<ManagedPurpose, RotationPolicy>> = {
  data: { cryptoPeriodDays: 365, maxUses: 100_000_000, warnDays: 30, warnUsesFraction: 0.8, graceDays: 30 },
  'gateway-transport': {
    cryptoPeriodDays: 365,
    maxUses: null,
    warnDays: 30,
    warnUsesFraction: 0.8,
    graceDays: 7,
  },
  'gateway-public': {
    cryptoPeriodDays: 365,
    maxUses: null,
    warnDays: 30,
    warnUsesFraction: 0.8,
    graceDays: 7,
  },
  kek: { cryptoPeriodDays: 730, maxUses: null, warnDays: 30, warnUsesFraction: 0.8, graceDays: 30 },
  hmac: { cryptoPeriodDays: 730, maxUses: null, warnDays: 30, warnUsesFraction: 0.8, graceDays: 30 },
  signing: { cryptoPeriodDays: 730, maxUses: null, warnDays: 30, warnUsesFraction: 0.8, graceDays: 30 },
  audit: { cryptoPeriodDays: 365, maxUses: null, warnDays: 30, warnUsesFraction: 0.8, graceDays: 30 },
};

export function policyFor(
  key: LogicalKey,
  overrides?: Partial<Record<ManagedPurpose, Partial<RotationPolicy>>>,
) {
  return { ...DEFAULT_POLICIES[key.purpose], ...overrides?.[key.purpose], ...key.policy };
}

export type DueReason =
  | { kind: 'age'; level: DueLevel; expiresAt: string; daysLeft: number }
  | { kind: 'uses'; level: DueLevel; uses: number; maxUses: number }
  | { kind: 'no-primary'; level: 'overdue' }
  | { kind: 'compromised'; level: 'overdue'; versionId: string };

export interface DueItem {
  logicalKeyId: string;
  name: string;
  purpose: ManagedPurpose;
  /** The primary that needs replacing, or null. */
  versionId: string | null;
  /** The worst of the reasons. */
  level: DueLevel;
  reasons: DueReason[];
  /** Needs a new version (rotateNow); false for gateway-public, whose next version is imported. */
  rotatable: boolean;
}

/** A replaced version whose grace period is over: deactivate it (sweep does). */
export interface GraceExpired {
  logicalKeyId: string;
  versionId: string;
  graceUntil: string;
}

const LEVEL_RANK: Record<DueLevel, number> = { warning: 1, due: 2, overdue: 3 };

/**
 * What needs rotating at `now`, and why. Age: `warning` within warnDays of the end of the
 * crypto-period, `due` once it ended, `overdue` once it ended more than graceDays ago. Uses:
 * `warning` at warnUsesFraction of maxUses, `due` at maxUses, `overdue` at 110 %. `usesOf` adds
 * counts still batched in memory.
 */
export function dueAt(
  data: InventoryData,
  now: Date,
  options: {
    usesOf?: (v: KeyVersion) => number;
    policies?: Partial<Record<ManagedPurpose, Partial<RotationPolicy>>>;
  } = {},
): { due: DueItem[]; graceExpired: GraceExpired[] } {
  const usesOf = options.usesOf ?? ((v: KeyVersion) => v.useCount);
  const due: DueItem[] = [];
  const graceExpired: GraceExpired[] = [];
  const t = now.getTime();
  for (const key of data.logicalKeys) {
    const versions = data.versions.filter((v) => v.logicalKeyId === key.id);
    if (versions.length === 0) continue;
    const policy = policyFor(key, options.policies);
    const rotating = data.rotations.some((r) => r.logicalKeyId === key.id);
    const primary = versions.find((v) => v.primary) ?? null;
    const reasons: DueReason[] = [];
    if (!primary && !rotating) {
      const compromised = versions.find((v) => v.state === 'compromised' && v.compromisedAt);
      if (compromised) reasons.push({ kind: 'compromised', level: 'overdue', versionId: compromised.id });
      else if (versions.some((v) => v.state !== 'destroyed'))
        reasons.push({ kind: 'no-primary', level: 'overdue' });
    }
    if (primary?.expiresAt) {
      const end = Date.parse(primary.expiresAt);
      const daysLeft = Math.floor((end - t) / DAY_MS);
      let level: DueLevel | null = null;
      if (t >= end + policy.graceDays * DAY_MS) level = 'overdue';
      else if (t >= end) level = 'due';
      else if (t >= end - policy.warnDays * DAY_MS) level = 'warning';
      if (level) reasons.push({ kind: 'age', level, expiresAt: primary.expiresAt, daysLeft });
    }
    if (primary && policy.maxUses !== null) {
      const uses = usesOf(primary);
      let level: DueLevel | null = null;
      if (uses >= useLimit(policy.maxUses, 1.1)) level = 'overdue';
      else if (uses >= policy.maxUses) level = 'due';
      else if (uses >= Math.floor(+(policy.maxUses * policy.warnUsesFraction).toFixed(6))) level = 'warning';
      if (level) reasons.push({ kind: 'uses', level, uses, maxUses: policy.maxUses });
    }
    if (reasons.length) {
      const level = reasons.reduce<DueLevel>(
        (worst, r) => (LEVEL_RANK[r.level] > LEVEL_RANK[worst] ? r.level : worst),
        'warning',
      );
      due.push({
        logicalKeyId: key.id,
        name: key.name,
        purpose: key.purpose,
        versionId: primary?.id ?? null,
        level,
        reasons,
        rotatable: key.purpose !== 'gateway-public',
      });
    }
    for (const v of versions) {
      if (!v.primary && v.state === 'active' && v.graceUntil && Date.parse(v.graceUntil) <= t) {
        graceExpired.push({ logicalKeyId: key.id, versionId: v.id, graceUntil: v.graceUntil });
      }
    }
  }
  return { due, graceExpired };
}

/** maxUses × factor, rounded up, without float noise (100 × 1.1 is 110, not 111). */
export function useLimit(maxUses: number, factor: number): number {
  return Math.ceil(+(maxUses * factor).toFixed(6));
}

export function addDays(at: Date, days: number): string {
  return new Date(at.getTime() + days * DAY_MS).toISOString();
}

// ---------------------------------------------------------------- envelope

/**
 * Versioned ciphertext: `mkm1:<versionId>:<iv b64>:<ct b64>`. The version id says which key
 * version decrypts it, so data written before a rotation still opens after it. AES-256-CBC with
 * PKCS#7 padding on the token, IV from the token's RNG. It carries no MAC: integrity of stored
 * data is the caller's (an HMAC key version can be used for that).
 */
export const ENVELOPE_PREFIX = 'mkm1';
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface Envelope {
  versionId: string;
  iv: string;
  ciphertext: string;
}

export function formatEnvelope(e: Envelope): string {
  return `${ENVELOPE_PREFIX}:${e.versionId}:${e.iv}:${e.ciphertext}`;
}

export function parseEnvelope(text: string): Envelope {
  const parts = text.trim().split(':');
  const [prefix, versionId, iv, ciphertext] = parts;
  if (
    parts.length !== 4 ||
    prefix !== ENVELOPE_PREFIX ||
    !versionId ||
    !UUID.test(versionId) ||
    !iv ||
    !B64.test(iv) ||
    iv.length !== 24 ||
    !ciphertext ||
    !B64.test(ciphertext)
  ) {
    throw new MkmError('ENCODING_INVALID', 'This is not an mkm1 envelope (mkm1:<version>:<iv>:<data>).');
  }
  return { versionId, iv, ciphertext };
}

/**
 * A versioned MAC tag: `mkm1m:<versionId>:<mac b64>` (HMAC-SHA256 on the token). As with the
 * envelope, the version id lets a tag made before a rotation verify after it.
 */
export const MAC_TAG_PREFIX = 'mkm1m';

export interface MacTag {
  versionId: string;
  mac: string;
}

export function formatMacTag(t: MacTag): string {
  return `${MAC_TAG_PREFIX}:${t.versionId}:${t.mac}`;
}

export function parseMacTag(text: string): MacTag {
  const parts = text.trim().split(':');
  const [prefix, versionId, mac] = parts;
  if (
    parts.length !== 3 ||
    prefix !== MAC_TAG_PREFIX ||
    !versionId ||
    !UUID.test(versionId) ||
    !mac ||
    !B64.test(mac) ||
    mac.length !== 44
  ) {
    throw new MkmError('ENCODING_INVALID', 'This is not an mkm1m MAC tag (mkm1m:<version>:<mac>).');
  }
  return { versionId, mac };
}
