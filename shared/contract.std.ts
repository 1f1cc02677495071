import { z } from 'zod';
import { channel, noArgs, type ClientApi, type EventShape } from './contract-kit.std';
import type { MkmErrorShape } from './errors.std';
import {
  CreateCsrParamsSchema,
  ExportPublicKeyParamsSchema,
  GenerateKeyParamsSchema,
  KeyRefParamsSchema,
  ObjectClassSchema,
  ObjectRefParamsSchema,
  SlotIdSchema,
  type CapabilitiesResult,
  type CsrResult,
  type DestroyResult,
  type ExportPublicKeyResult,
  type GenerateKeyResult,
  type InitTokenResult,
  type KcvResult,
  type LoginResult,
  type ModuleInfo,
  type ObjectInfo,
  type OkResult,
  type SlotSummary,
  type WellKnownModule,
} from './tokens.std';
import {
  KEY_STATES,
  MANAGED_KEY_TYPES,
  TOKEN_PURPOSES,
  type DueLevel,
  type KeyState,
  type ManagedKeyType,
  type ManagedPurpose,
} from './lifecycle/vocabulary.std';
import { consoleContract } from './contract/console.std';
import { exchangeContract } from './contract/exchange.std';
import { reportContract } from './contract/report.std';
import { supportContract, troubleshootContract } from './contract/troubleshoot.std';

/**
 * THE contract between the renderer and main. Every channel's request is a strict zod schema
 * (unknown keys, `__proto__` included, are rejected); its result is a type. The preload object
 * `window.mkm`, the main-process registry, the browser-mode bridge and the CLI transport are all
 * generated from this table, so a channel cannot exist on one side only.
 */

const PATH = z.string().min(1).max(4096);

export const THEMES = ['system', 'light', 'dark'] as const;

export const settingsPatch = z.strictObject({
  theme: z.enum(THEMES).optional(),
  idleLogoutMinutes: z.number().int().min(1).max(240).optional(),
  confirmDemoToken: z.boolean().optional(),
  firstRunGuideDismissed: z.boolean().optional(),
});

export interface Settings {
  theme: (typeof THEMES)[number];
  idleLogoutMinutes: number;
  confirmDemoToken: boolean;
  /** The dashboard's first-run guide was put away (the dashboard offers it back). */
  firstRunGuideDismissed: boolean;
}

export interface AppStatus {
  app: { name: string; version: string; packaged: boolean };
  mode: 'electron' | 'browser' | 'cli';
  runtime: { node: string; electron: string | null; chrome: string | null; platform: string; arch: string };
  dataDir: string;
  startedAt: string;
  store: { ok: boolean; restoredFrom: string | null };
  hsm: {
    modulePath: string | null;
    demo: boolean;
    /** Where the choice comes from (a CLI --module is an override). */
    source?: ModuleState['source'];
    /** Whether initialisation parameters go with the library (never the parameters themselves). */
    parameters?: boolean;
    /** The loaded library's own description, when it is loaded. */
    library?: string | null;
    /** Host calls the token has not answered for a while (see HsmClient's `waitingNoticeMs`). */
    waiting: TokenWaitView[];
  };
}

/** A token call main is waiting on: the operation (its `progress` id and channel) and how long. */
export interface TokenWaitView {
  /** Null for a call no operation made (a background seal or poll). */
  operationId: string | null;
  channel: string | null;
  method: string;
  waitingMs: number;
}

/** Hosts the app may open in the OS browser; everything else is refused. */
export const EXTERNAL_URL_ALLOWLIST = [
  'https://www.pcisecuritystandards.org/',
  'https://developers.paytrace.com/',
  'https://docs.oasis-open.org/pkcs11/',
] as const;

const PIN = z.string().min(1).max(256);
/** Destructive and security-officer steps carry an explicit yes from the user. */
const CONFIRMED = z.literal(true);

export interface ModuleState {
  source: 'override' | 'settings' | 'demo' | 'none';
  path: string | null;
  demo: boolean;
  demoLabel: string | null;
  demoAvailable: boolean;
  demoNeedsConsent: boolean;
  info: ModuleInfo | null;
  error: MkmErrorShape | null;
  /** Libraries a page may choose: the well-known ones found here, and those named at launch. */
  wellKnown: WellKnownModule[];
  /** Whether main has a file dialog to browse for another library (the desktop app). */
  canBrowse: boolean;
}

export interface AuditVerifyReport {
  ok: boolean;
  entries: number;
  lines: number;
  seals: number;
  sealsVerified: boolean;
  sealError?: string;
  sealedThrough: number;
  unsealed: number;
  firstUnsealed?: { seq: number; line: number };
  unconfirmed: number;
  firstBad?: { seq: number | null; line: number; kind: string; reason: string };
  /** Set when the logged-in token cannot seal at all: why (issue 12). */
  noSeal?: string;
  /** How the logged-in token seals (HMAC-SHA256, AES-CMAC, RSASSA-PSS). */
  sealedWith?: string;
}

export interface AuditStatusView {
  open: boolean;
  error: string | null;
  held: number;
  sealing: boolean;
  /**
   * What seals new entries: the audit key's kind (HMAC-SHA256, else AES-CMAC, else an RSASSA-PSS
   * signature, by what the token can make), or, while a token is logged in that cannot make any,
   * why not (`impossible`). Optional for callers that predate it.
   */
  seal?: {
    kind: 'hmac' | 'cmac' | 'rsa-pss' | null;
    method: string | null;
    impossible: string | null;
    /** The one sentence to show, derived from the above. */
    summary: string;
  };
  /** The code of the last seal's failure while sealing (entries stay unsealed); null when it worked. */
  sealError: string | null;
  /**
   * Set while actions that must be recorded are refused (AUDIT_UNAVAILABLE): why, and whether
   * `audit.recover` is the way out (not for a disk that cannot be written: moving the log aside
   * gives it no room or rights back).
   */
  unavailable: { cause: string; reason: string; recoverable: boolean } | null;
}

export interface AuditRecoverView {
  /** The folder (inside the audit folder) the damaged log was moved to, untouched. */
  movedTo: string;
  reason: string;
  /** The old log's last complete line: its seq and SHA-256, and how many lines it had. */
  oldHead: { seq: number; hash: string; lines: number } | null;
  verified: { ok: boolean; sealsVerified: boolean };
}

export interface AuditEntryView {
  seq: number;
  time: string;
  actor: { osUser: string; token: { serial: string; label: string } | null };
  action: string;
  key?: { id: string; kcv?: string; fingerprint?: string };
  result: string;
  details?: Record<string, unknown>;
}

const auditFilter = z.strictObject({
  action: z.string().max(100).optional(),
  keyId: z.string().max(256).optional(),
  result: z.string().max(64).optional(),
  from: z.iso.datetime().optional(),
  to: z.iso.datetime().optional(),
  text: z.string().max(200).optional(),
});

// ---------------------------------------------------------------- key lifecycle (lifecycle.*)

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

export const GATEWAY_CSE_PADDINGS = ['RSAES-PKCS1-V1_5', 'RSAES-OAEP-SHA256'] as const;
const PROFILE_ID = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const SHA256_HEX = z.string().regex(/^[0-9a-fA-F]{64}$/);
const gatewayProfileRef = z.strictObject({ profileId: PROFILE_ID });

/** A gateway profile as shown: no secret is ever part of one. */
export interface GatewayProfileView {
  id: string;
  name: string;
  baseUrl: string;
  username: string;
  tlsPinSha256: string | null;
  cse: (typeof GATEWAY_CSE_PADDINGS)[number] | null;
  keyRolling: boolean;
  /** The embedded local sandbox: a demo gateway, labelled DEMO. */
  demo: boolean;
  /** A password is at hand (typed this session, kept encrypted, or from the environment). */
  passwordKnown: boolean;
  /** The environment variable that serves this profile's password (CLI, browser mode), if any. */
  passwordEnv: string | null;
}
/** Who compared a pinned key's fingerprint with the gateway's, out of band; null: unconfirmed. */
export interface GatewayPinConfirmation {
  by: string;
  role: string | null;
  at: string;
}
export interface GatewayPublicKeyView {
  keyId: string | null;
  spkiSha256: string;
  padding: string;
  source: 'fetched' | 'imported';
  seenAt: string;
  confirmed: GatewayPinConfirmation | null;
}
export interface GatewayKeyState {
  status: 'none' | 'pinned' | 'rotation-pending';
  pinned: GatewayPublicKeyView | null;
  /** The key the gateway now serves, waiting for an admin's confirmation. */
  pending: GatewayPublicKeyView | null;
  previous?: { keyId: string; spkiSha256: string; acceptedUntil: string }[];
}
/** The gateway's key-set signing key (contract 1.1): pinned like the encryption key. */
export interface GatewaySigningKeyView {
  keyId: string | null;
  spkiSha256: string;
  source: 'fetched' | 'imported';
  seenAt: string;
  confirmed: GatewayPinConfirmation | null;
}
export interface GatewaySigningKeyState {
  status: 'none' | 'pinned' | 'rotation-pending';
  pinned: GatewaySigningKeyView | null;
  /** The key the gateway now signs with, waiting for an admin's confirmation. */
  pending: GatewaySigningKeyView | null;
  /** Keys replaced by a confirmed rotation; sets they signed are accepted until then. */
  previous: { keyId: string | null; spkiSha256: string; acceptedUntil: string }[];
}
export interface GatewayKeySetView {
  setId: string;
  wrappingKeyId: string;
  expiresAt: string;
}
export interface GatewayMerchantKeyView {
  keyId: string;
  label: string | null;
  spkiSha256: string;
  wrapping: string | null;
  status: 'active' | 'retired';
  registeredAt: string;
  retiredAt: string | null;
}
export interface GatewaySyncReport {
  at: string;
  ok: boolean;
  /** The step that failed (token, gateway-key, signing-key, merchant-keys, key-set). */
  step: string | null;
  error: MkmErrorShape | null;
  gatewayKey: GatewayKeyState | null;
  /** Key-rolling profiles: the signing key the sets are checked against (contract 1.1). */
  signingKey: GatewaySigningKeyState | null;
  merchantKeys: GatewayMerchantKeyView[] | null;
  keySet: GatewayKeySetView | null;
}
export interface GatewayStatus {
  profile: GatewayProfileView;
  gatewayKey: GatewayKeyState;
  rotationPending: boolean;
  signingKey: GatewaySigningKeyState;
  signingRotationPending: boolean;
  merchantKeys: GatewayMerchantKeyView[];
  /** `inToken: false`: recorded by an earlier run; the next message asks for a fresh set. */
  keySet: (GatewayKeySetView & { inToken: boolean }) | null;
  lastSync: GatewaySyncReport | null;
}
export interface GatewayRegistration {
  profileId: string;
  keyId: string;
  spkiSha256: string;
  wrapping: string;
  created: boolean;
  registeredAt: string;
  keySet: GatewayKeySetView | { refused: string };
}
export interface GatewayEmbeddedSandbox {
  /** Unpackaged UIs only: a packaged app never starts it. */
  available: boolean;
  running: boolean;
  url: string | null;
  profileId: string | null;
}
export interface GatewayPingResult {
  profileId: string;
  setId: string;
  serverTime: string;
  nextKeySet: GatewayKeySetView | { refused: string };
}

const slotOf = (r: Record<string, unknown>) => ({ slotId: r.slotId as number });

export const contract = {
  app: {
    status: channel(noArgs, 'What the app is, where its data lives, and how it runs.')
      .returns<AppStatus>()
      .notAudited('reads what the app is and where it runs'),
    openExternal: channel(
      z.strictObject({ url: z.url({ protocol: /^https$/ }).max(2048) }),
      'Open an allow-listed documentation link in the OS browser.',
    )
      .returns<{ opened: boolean }>()
      .notAudited(
        'opens an allow-listed documentation link in the OS browser; no key, token or data is touched',
      ),
  },
  settings: {
    get: channel(noArgs, 'Read the user settings.').returns<Settings>().notAudited('reads the settings'),
    update: channel(settingsPatch, 'Change some user settings.')
      .returns<Settings>()
      .audited((r) => ({ action: 'settings.update', details: { fields: Object.keys(r) } })),
  },
  tokens: {
    modules: channel(noArgs, 'The PKCS#11 library in use, its C_GetInfo, and well-known ones.')
      .returns<ModuleState>()
      .notAudited('reads which PKCS#11 library is in use'),
    selectModule: channel(
      z.strictObject({
        path: PATH.nullable(),
        demo: z.boolean().optional(),
        libraryParameters: z.string().max(4096).nullable().optional(),
      }),
      'Use another PKCS#11 library among those main knows (well-known, named at launch, browsed), or the demo token.',
    )
      .returns<ModuleState>()
      .audited((r) => ({
        action: 'token.module.select',
        details: { path: r.path, demo: r.demo ?? false },
      })),
    browseModule: channel(
      z.strictObject({ libraryParameters: z.string().max(4096).nullable().optional() }),
      'Desktop app: pick a PKCS#11 library in main’s file dialog and use it (null when cancelled).',
    )
      .returns<ModuleState | null>()
      // The load itself is recorded by the tokens service (token.module.load: real path, SHA-256).
      .audited((_r, res) => ({
        action: 'token.module.browse',
        details: { path: (res as { path?: string | null } | null | undefined)?.path ?? null },
      })),
    list: channel(noArgs, 'Slots and tokens with their info and flags.')
      .returns<SlotSummary[]>()
      .notAudited('reads slots and token info'),
    login: channel(
      z.strictObject({
        slotId: SlotIdSchema,
        pin: PIN.optional(),
        userType: z.enum(['user', 'so']).optional(),
      }),
      'Log in with the user PIN (or on the PIN pad when no PIN is given).',
    )
      .returns<LoginResult>()
      // Runs while the log is unavailable (its entry held for the new segment): verifying the
      // seals and checking the token's head, the way out, need the login.
      .audited(
        (r) => ({
          action: 'token.login',
          details: { ...slotOf(r), userType: r.userType ?? 'user', pinPad: r.pin === undefined },
        }),
        { whenUnavailable: 'run' },
      ),
    cancel: channel(
      z.strictObject({ operationId: z.string().min(1).max(64) }),
      'Cancel an operation by its progress id: a token call it waits on is abandoned and the token connection restarted.',
    )
      .returns<{ cancelled: boolean }>()
      .audited(
        (r, res) => ({
          action: 'token.operation.cancel',
          details: {
            operationId: r.operationId,
            cancelled: (res as { cancelled?: boolean } | undefined)?.cancelled === true,
          },
        }),
        { whenUnavailable: 'run' },
      ),
    logout: channel(z.strictObject({ slotId: SlotIdSchema }), 'Log out of a token.')
      .returns<OkResult>()
      .audited((r) => ({ action: 'token.logout', details: slotOf(r) }), { whenUnavailable: 'run' }),
    changePin: channel(
      z.strictObject({ slotId: SlotIdSchema, oldPin: PIN, newPin: PIN }),
      "Change the logged-in user's PIN.",
    )
      .returns<OkResult>()
      .audited((r) => ({ action: 'token.pin.change', details: slotOf(r) })),
    initToken: channel(
      z.strictObject({
        slotId: SlotIdSchema,
        soPin: PIN,
        label: z.string().min(1).max(32),
        confirm: CONFIRMED,
      }),
      'Security officer: initialize (erase) a token.',
    )
      .returns<InitTokenResult>()
      .audited((r) => ({ action: 'token.init', details: { ...slotOf(r), label: r.label } })),
    initUserPin: channel(
      z.strictObject({ slotId: SlotIdSchema, soPin: PIN, userPin: PIN, confirm: CONFIRMED }),
      "Security officer: set the user's PIN.",
    )
      .returns<OkResult>()
      .audited((r) => ({ action: 'token.pin.init', details: slotOf(r) })),
    capabilities: channel(
      z.strictObject({ slotId: SlotIdSchema, refresh: z.boolean().optional() }),
      'What this token can really do, found by trying (cached per model and firmware).',
    )
      .returns<CapabilitiesResult & { cached: boolean }>()
      .notAudited('finds what the token can do with session objects it destroys at once; no key is kept'),
    knownCapabilities: channel(
      z.strictObject({ slotId: SlotIdSchema }),
      'What an earlier probe found this token can do, or null when it was never probed (never probes).',
    )
      .returns<(CapabilitiesResult & { cached: true }) | null>()
      .notAudited('reads the cached probe result'),
  },
  keys: {
    list: channel(
      z.strictObject({ slotId: SlotIdSchema, class: ObjectClassSchema.optional() }),
      'Objects on the token with their attributes.',
    )
      .returns<ObjectInfo[]>()
      .notAudited('reads object attributes (never key material)'),
    get: channel(z.strictObject(ObjectRefParamsSchema.shape), 'One object with its attributes.')
      .returns<ObjectInfo>()
      .notAudited('reads object attributes (never key material)'),
    generate: channel(
      z.strictObject({ ...GenerateKeyParamsSchema.shape, operationId: z.string().max(64).optional() }),
      'Generate a key inside the token with a safe template.',
    )
      .returns<GenerateKeyResult>()
      .audited((r, res) => {
        const g = res as { id?: string; kcv?: { kcv: string }; spkiSha256?: string } | undefined;
        return {
          action: 'key.generate',
          ...(g?.id
            ? {
                key: {
                  id: g.id,
                  ...(g.kcv ? { kcv: g.kcv.kcv } : {}),
                  ...(g.spkiSha256 ? { fingerprint: g.spkiSha256 } : {}),
                },
              }
            : {}),
          details: { ...slotOf(r), type: r.type, purpose: r.purpose, label: r.label },
        };
      }),
    exportPublic: channel(
      z.strictObject(ExportPublicKeyParamsSchema.shape),
      'A public key as PEM (SPKI) or JWK, with its SPKI-SHA256 fingerprint.',
    )
      .returns<ExportPublicKeyResult>()
      .audited((r, res) => ({
        action: 'key.export.public',
        key: {
          id: String(r.id),
          ...((res as { spkiSha256?: string })?.spkiSha256
            ? { fingerprint: (res as { spkiSha256: string }).spkiSha256 }
            : {}),
        },
        details: { ...slotOf(r), format: r.format },
      })),
    kcv: channel(z.strictObject(KeyRefParamsSchema.shape), "A secret key's check value.")
      .returns<KcvResult>()
      .notAudited('reads a check value, which reveals nothing of the key'),
    csr: channel(
      z.strictObject(CreateCsrParamsSchema.shape),
      'A PKCS#10 request signed by a key pair on the token.',
    )
      .returns<CsrResult>()
      .audited((r) => ({ action: 'key.csr', key: { id: String(r.id) }, details: slotOf(r) })),
    destroy: channel(
      z.strictObject({ ...ObjectRefParamsSchema.shape, confirm: CONFIRMED }),
      'Destroy an object on the token (it cannot be undone).',
    )
      .returns<DestroyResult>()
      .audited((r) => ({
        action: 'key.destroy',
        key: { id: String(r.id) },
        details: { ...slotOf(r), class: r.class },
      })),
  },
  audit: {
    status: channel(noArgs, 'Whether the audit log is open and sealing.')
      .returns<AuditStatusView>()
      .notAudited('reads the state of the audit log itself'),
    verify: channel(noArgs, 'Check the whole audit log: chain, seals, truncation.')
      .returns<AuditVerifyReport>()
      .audited(
        (_r, res) => ({
          action: 'audit.verify',
          details: { ok: (res as AuditVerifyReport | undefined)?.ok ?? false },
        }),
        { whenUnavailable: 'run' },
      ),
    query: channel(
      z.strictObject({
        filter: auditFilter.optional(),
        limit: z.number().int().min(1).max(10_000).optional(),
      }),
      'Search the audit log, newest first.',
    )
      .returns<{ entries: AuditEntryView[]; matched: number }>()
      .notAudited('reads the audit log itself'),
    export: channel(
      z.strictObject({ format: z.enum(['json', 'csv']), filter: auditFilter.optional() }),
      'The audit log as JSON or CSV text.',
    )
      .returns<{ format: 'json' | 'csv'; content: string }>()
      .audited((r) => ({ action: 'audit.export', details: { format: r.format } })),
    recover: channel(
      z.strictObject({ confirm: CONFIRMED }),
      'Move a damaged audit log aside untouched and start a new one that names it and its last entry.',
    )
      .returns<AuditRecoverView>()
      // Its record is the new log's first entries (audit.start and audit.recover name the
      // quarantine and the old head): it is the one way out while the log takes nothing.
      .recordsItself({ whenUnavailable: 'run' }),
    replaceKey: channel(
      z.strictObject({ confirm: CONFIRMED }),
      'Make a new audit key on the logged-in token; the old one stays (pinned, protected) to verify its seals.',
    )
      .returns<{ key: { id: string; kcv: string }; replaced: { id: string; kcv: string } }>()
      // audit.key.generate (with the key it replaces) and the seals on either side of it.
      .recordsItself(),
  },
  lifecycle: {
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
  },
  gateway: {
    addProfile: channel(
      z.strictObject({
        id: PROFILE_ID.optional(),
        name: z.string().trim().min(1).max(128),
        baseUrl: z.string().min(1).max(2048),
        username: z.string().min(1).max(256),
        tlsPinSha256: SHA256_HEX.optional(),
        cse: z.enum(GATEWAY_CSE_PADDINGS).optional(),
        keyRolling: z.boolean().optional(),
        /** The environment variable that holds this profile's password (CLI, browser mode). */
        passwordEnv: z
          .string()
          .regex(/^[A-Z_][A-Z0-9_]{0,63}$/)
          .optional(),
      }),
      'Add a gateway profile (its password is never stored).',
    )
      .returns<GatewayProfileView>()
      .audited((r, res) => ({
        action: 'gateway.profile.add',
        details: {
          profileId: (res as { id?: string } | undefined)?.id ?? r.id ?? null,
          baseUrl: r.baseUrl,
          username: r.username,
          tlsPin: r.tlsPinSha256 ?? null,
          // The variable's name only: which environment variable may serve this profile's password.
          passwordEnv: r.passwordEnv ?? null,
        },
      })),
    listProfiles: channel(noArgs, 'The gateway profiles.')
      .returns<GatewayProfileView[]>()
      .notAudited('reads the gateway profiles'),
    // Where the password is kept, never the password.
    setPassword: channel(
      z.strictObject({
        profileId: PROFILE_ID,
        password: z.string().min(1).max(1024),
        remember: z.boolean().optional(),
      }),
      "A profile's gateway password: kept in main for the session (remember: encrypted by the OS).",
    )
      .returns<{ kept: 'session' | 'encrypted' }>()
      .audited((r, res) => ({
        action: 'gateway.profile.password',
        details: { profileId: r.profileId, kept: (res as { kept?: string } | undefined)?.kept ?? null },
      })),
    embeddedSandbox: channel(
      noArgs,
      'The local demo sandbox: whether it runs, and whether this mode may start it.',
    )
      .returns<GatewayEmbeddedSandbox>()
      .notAudited('reads whether the local demo sandbox runs'),
    startEmbeddedSandbox: channel(
      noArgs,
      'Start the local demo sandbox on 127.0.0.1 and add its "Local sandbox (demo)" profile.',
    )
      .returns<GatewayEmbeddedSandbox>()
      .audited((_r, res) => ({
        action: 'gateway.sandbox.start',
        details: { url: (res as { url?: string | null } | undefined)?.url ?? null },
      })),
    removeProfile: channel(
      z.strictObject({ profileId: PROFILE_ID, confirm: CONFIRMED }),
      'Forget a gateway profile.',
    )
      .returns<{ removed: boolean }>()
      .audited((r) => ({ action: 'gateway.profile.remove', details: { profileId: r.profileId } })),
    status: channel(
      gatewayProfileRef,
      "A profile's pinned gateway key, transport keys, key set and last sync (never key material).",
    )
      .returns<GatewayStatus>()
      .notAudited('reads a profile state (never key material)'),
    registerTransportKey: channel(
      z.strictObject({
        profileId: PROFILE_ID,
        slotId: SlotIdSchema,
        keyId: z.string().regex(/^[0-9a-fA-F]{1,128}$/),
      }),
      "Register a token RSA key pair as the merchant's transport key at the gateway.",
    )
      .returns<GatewayRegistration>()
      .recordsItself(),
    fetchKey: channel(
      gatewayProfileRef,
      "Fetch the gateway's public key: pinned on first sight, a rotation to confirm after.",
    )
      .returns<GatewayKeyState>()
      .recordsItself(),
    importKeyPem: channel(
      z.strictObject({ profileId: PROFILE_ID, pem: z.string().min(1).max(16_384) }),
      "Import the gateway's public key PEM by hand (a gateway without a key endpoint).",
    )
      .returns<GatewayKeyState>()
      .recordsItself(),
    confirmKeyRotation: channel(
      z.strictObject({ profileId: PROFILE_ID, fingerprint: SHA256_HEX }),
      "Accept the gateway's new public key, named by its fingerprint.",
    )
      .returns<GatewayKeyState>()
      .recordsItself(),
    confirmPin: channel(
      z.strictObject({
        profileId: PROFILE_ID,
        key: z.enum(['encryption', 'signing']),
        /** As read out by the gateway's operator: 64 hex digits, spaces or colons allowed. */
        fingerprint: z.string().min(64).max(160),
        by: z.string().trim().min(1).max(128),
        role: z.string().trim().max(128).optional(),
      }),
      "Confirm a pinned gateway key by its fingerprint, compared out of band with the gateway's; records who.",
    )
      .returns<GatewayStatus>()
      .recordsItself(),
    fetchSigningKey: channel(
      gatewayProfileRef,
      "Fetch the gateway's key-set signing key: pinned on first sight, a rotation to confirm after.",
    )
      .returns<GatewaySigningKeyState>()
      .recordsItself(),
    importSigningKeyPem: channel(
      z.strictObject({ profileId: PROFILE_ID, pem: z.string().min(1).max(16_384) }),
      "Import the gateway's key-set signing key PEM by hand (a gateway without the endpoint).",
    )
      .returns<GatewaySigningKeyState>()
      .recordsItself(),
    confirmSigningKeyRotation: channel(
      z.strictObject({ profileId: PROFILE_ID, fingerprint: SHA256_HEX }),
      "Accept the gateway's new key-set signing key, named by its fingerprint.",
    )
      .returns<GatewaySigningKeyState>()
      .recordsItself(),
    ping: channel(gatewayProfileRef, 'A secure ping under a one-use key set.')
      .returns<GatewayPingResult>()
      .recordsItself(),
    sync: channel(
      gatewayProfileRef,
      "Fetch and pin the gateway's key, list the merchant keys, ensure a usable key set.",
    )
      .returns<GatewaySyncReport>()
      .recordsItself(),
  },
  console: consoleContract,
  troubleshoot: troubleshootContract,
  support: supportContract,
  report: reportContract,
  exchange: exchangeContract,
} as const;

export type Contract = typeof contract;
export type MkmApi = ClientApi<Contract> & { readonly events: EventsApi };

/** The app states main announces as `state.changed`: the library, logins, the audit seal, gateway sync. */
export const STATE_DOMAINS = ['library', 'login', 'seal', 'sync'] as const;
export type StateDomain = (typeof STATE_DOMAINS)[number];

export const events = {
  'app.notice': z.strictObject({
    level: z.enum(['info', 'warning', 'error']),
    code: z.string().optional(),
    message: z.string(),
  }),
  progress: z.strictObject({
    operationId: z.string(),
    phase: z.string(),
    fraction: z.number().min(0).max(1).nullable(),
    message: z.string(),
  }),
  'settings.changed': z.strictObject({ theme: z.enum(THEMES) }),
  'tokens.changed': z.strictObject({
    inserted: z.array(z.strictObject({ slotId: z.number(), label: z.string(), serial: z.string() })),
    removed: z.array(z.strictObject({ slotId: z.number(), label: z.string(), serial: z.string() })),
  }),
  'tokens.connection': z.strictObject({ state: z.enum(['lost', 'restored', 'failed']), message: z.string() }),
  'tokens.loggedOut': z.strictObject({
    slotIds: z.array(z.number()),
    /** library-changed: another PKCS#11 library was chosen; the old one's logins ended with it. */
    reason: z.enum(['idle', 'connection', 'library-changed']),
  }),
  /**
   * Main's word that a piece of the app's state changed, whoever changed it (this page, another
   * window, a direct service call): every view reading that state reads it again.
   */
  'state.changed': z.strictObject({
    what: z.enum(STATE_DOMAINS),
    slotId: z.number().optional(),
    profileId: z.string().optional(),
  }),
  'gateway.rotationPending': z.strictObject({
    profileId: z.string(),
    fingerprint: z.string(),
    /** Which gateway key rotated; absent: the encryption key. */
    key: z.enum(['encryption', 'signing']).optional(),
  }),
} satisfies EventShape;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventListener<K extends EventName> = (payload: z.output<Events[K]>) => void;

export interface EventsApi {
  on<K extends EventName>(name: K, listener: EventListener<K>): () => void;
}
