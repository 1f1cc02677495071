import type { ManagedKeyType, ManagedPurpose, TokenPurpose } from '../../../shared/lifecycle/vocabulary.std';
import type { CapabilitiesResult } from '../../../shared/tokens.std';
import type { AuditAppend } from '../../audit/audit-log.nodejs';
import type { Logger } from '../../core/logger.nodejs';
import type { HsmMethodName, HsmParams, HsmResult } from '../../hsm/host/protocol.std';
import type { DueItem, KeyVersion, LogicalKey, Rotation, RotationPolicy } from '../model.std';
import type { KeyUsageService } from '../usage.nodejs';

// What KeyLifecycleService is given and gives back: its options and hooks, the requests its
// callers send and the reports and progress it returns.

/** What this service needs from TokensService (its `call` fits). */
export interface TokenCaller {
  call<K extends HsmMethodName>(method: K, params: HsmParams<K>): Promise<HsmResult<K>>;
  /** The capability probe (TokensService.capabilities): a KCV is computed only where it says so. */
  capabilities?(slotId: number): Promise<Pick<CapabilitiesResult, 'capabilities'>>;
}

export interface GatewayRegistrationRequest {
  logicalKey: LogicalKey;
  version: KeyVersion;
  /** SPKI PEM of an RSA version (what the gateway wraps session keys under). */
  publicKeyPem: string | null;
}

/**
 * Tells the gateway about a new version before it becomes primary. MUST be idempotent per
 * `version.id`: after a crash the same version is registered again. Return the gateway's
 * reference (key set id) when it has one.
 */
export type GatewayRegistrationHook = (
  request: GatewayRegistrationRequest,
) => Promise<{ reference?: string | null } | void>;

export interface GatewayRetirementRequest {
  logicalKey: LogicalKey;
  version: KeyVersion;
  /** Why the version leaves service; the gateway stops wrapping key sets under it. */
  reason: 'deactivated' | 'compromised' | 'destroyed';
}

/**
 * Tells the gateway a registered version is no longer in service. MUST be idempotent per
 * `version.id` (retried after a crash or while the gateway is unreachable).
 */
export type GatewayRetirementHook = (request: GatewayRetirementRequest) => Promise<void>;

export interface KeyLifecycleOptions {
  /** Folder of the inventory files, DataPaths.keys. */
  dir: string;
  tokens: TokenCaller;
  /** Every lifecycle action goes here (AuditLog.append fits). */
  audit: (entry: AuditAppend) => void;
  clock?: () => Date;
  logger?: Logger;
  registerWithGateway?: GatewayRegistrationHook | null;
  retireAtGateway?: GatewayRetirementHook | null;
  /** Overrides of DEFAULT_POLICIES per purpose (a logical key's own policy wins over these). */
  policies?: Partial<Record<ManagedPurpose, Partial<RotationPolicy>>>;
  /** How often batched use counts are written; default 30 s, 0 = only on flush/close. */
  usageFlushMs?: number;
  /** Write at once when this many uses are waiting; default 10 000. */
  usageMaxPending?: number;
  /**
   * The app's usage service: when given, every use is counted there (one place for all paths)
   * and a version at its use limit is refused (USE_LIMIT_REACHED) before the token is asked;
   * usageFlushMs, usageMaxPending and hardUseLimitFactor then do not apply.
   */
  usage?: KeyUsageService;
  /**
   * Refuse new encryptions once a version is this far past its use limit (1.1 = 110 %, the
   * `overdue` level of due()); null: never refuse, only report. Default 1.1.
   */
  hardUseLimitFactor?: number | null;
  /** Test hook: called at named crash points (see CRASH_POINTS). */
  faults?: (point: string) => void;
  /** See InventoryStoreOptions.onCorrupt; default 'throw' (STORE_CORRUPT). */
  onCorrupt?: 'throw' | 'restore';
}

/** The points `faults` is called at, in rotation order. */
export const CRASH_POINTS = [
  'planned',
  'generate:mid',
  'generated',
  'registering',
  'register:mid',
  'registered',
  'promoted',
  'done',
] as const;

/** A rotation's visible steps, for a progress display (not the journal's steps). */
export const ROTATION_PROGRESS_STEPS = ['planned', 'generating', 'registering', 'promoting', 'done'] as const;
export type RotationProgressStep = (typeof ROTATION_PROGRESS_STEPS)[number];

export interface RotationProgress {
  step: RotationProgressStep;
  logicalKeyId: string;
  version: number;
  message: string;
}

export type RotationProgressSink = (progress: RotationProgress) => void;

export interface CreateKeyRequest {
  name: string;
  purpose: TokenPurpose;
  type?: ManagedKeyType;
  tokenSerial: string;
  policy?: Partial<RotationPolicy>;
  /**
   * Keep the key with the wider usage the token insists on (tpm2-pkcs11's RSA keys both sign and
   * decrypt) instead of refusing it (KEY_TEMPLATE_REFUSED): the admin's explicit choice, audited.
   */
  acceptWiderUsage?: boolean;
}

export interface AdoptRequest {
  tokenSerial: string;
  ckaId: string;
  purpose: TokenPurpose;
  /** Join an existing logical key as its next version (pre-activation unless it has no primary)... */
  logicalKeyId?: string;
  /** ...or start a new logical key with this name (the object becomes its active primary). */
  name?: string;
}

export interface ResumeReport {
  rotations: { rotationId: string; logicalKeyId: string; fromStep: Rotation['step']; versionId: string }[];
  destroyed: string[];
  /** Replaced versions whose grace period had ended, deactivated now. */
  deactivated: string[];
  /** Versions the gateway still has to be told about (retired after a failed or missed call). */
  retirePending: string[];
  failed: { id: string; code: string; message: string }[];
}

export interface RotateDueReport {
  rotated: { logicalKeyId: string; versionId: string; reasons: DueItem['reasons'] }[];
  deactivated: string[];
  failed: { logicalKeyId: string; code: string; message: string }[];
}
