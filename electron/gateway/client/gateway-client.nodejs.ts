import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { MkmError, type ErrorCode } from '../../../shared/errors.std';
import { normalizeFingerprint } from '../../../shared/formats/fingerprint.std';
import { issueLines } from '../../../shared/formats/schemas.std';
import { silentLogger, type Logger } from '../../core/logger.nodejs';
import { encryptField, type CsePadding } from '../../crypto/cse.nodejs';
import { countedUse, countGatewayKeyUse, type KeyUseCounter } from '../../lifecycle/usage.nodejs';
import { parseNextKeySet, secureResponseSchema, type NextKeySet } from '../../crypto/envelope.nodejs';
import { parseRsaPublicKey, type RsaPublicKey } from '../../crypto/pem.nodejs';
import { checkCapabilities } from '../../hsm/capability-guard.nodejs';
import type { HsmResult } from '../../hsm/host/protocol.std';
import type { CapabilitiesResult, WrapMechanism } from '../../../shared/tokens.std';
import {
  GatewayHttpError,
  HttpsJsonClient,
  type HttpsJsonClientOptions,
  type JsonResponse,
} from './https.nodejs';
import type { GatewayProfile, SecretProvider } from './profiles.nodejs';
import { GatewaySession } from './session.nodejs';
import {
  GatewayStateStore,
  type GatewayKeyRecord,
  type KeySetRecord,
  type MerchantKeyRecord,
  type PinConfirmation,
  type SigningKeyRecord,
} from './state.nodejs';
import { keySetSignatureValid, SIGNING_KEY_MIN_BITS } from '../keyset-signature.nodejs';
import { openInToken, sealInToken, type TokenCaller } from './token-envelope.nodejs';
import { checkState } from '../../audit/state-seal.nodejs';
import type { CseFieldName } from '../../../shared/formats/cse-fields.std';

/**
 * The gateway client core: one gateway profile, one token slot, the contract of
 * ../shared/gateway-api.md. Every key of a key set lives only inside the token (unwrapped there
 * as session objects, used there, destroyed there); this process sees ciphertexts, MACs, KCVs
 * and ids. Calls are serialized: a key set encrypts exactly one message, so two concurrent
 * calls must never pick the same set.
 */

export type { TokenCaller } from './token-envelope.nodejs';

export type GatewayAuditAction =
  | 'session.sign-in'
  | 'merchant-key.register'
  | 'merchant-key.retire'
  | 'merchant-key.list'
  | 'gateway-key.fetch'
  | 'gateway-key.import'
  | 'gateway-key.pin'
  | 'gateway-key.rotation-detected'
  | 'gateway-key.rotation-confirmed'
  | 'gateway-key.pin-confirmed'
  | 'signing-key.fetch'
  | 'signing-key.import'
  | 'signing-key.pin'
  | 'signing-key.rotation-detected'
  | 'signing-key.rotation-confirmed'
  | 'signing-key.pin-confirmed'
  | 'key-set.request'
  | 'key-set.install'
  | 'key-set.discard'
  | 'secure.send'
  | 'cse.verify'
  | 'sandbox.fault'
  | 'sandbox.rotate-public-key'
  | 'sandbox.rotate-signing-key';

/** Audit-worthy facts only: ids, fingerprints, outcomes; never a key, PIN, password or card value. */
export interface GatewayAuditEntry {
  action: GatewayAuditAction;
  result: 'ok' | 'refused' | 'error';
  profileId: string;
  keyId?: string;
  setId?: string;
  fingerprint?: string;
  previousFingerprint?: string;
  operation?: string;
  wrapping?: string;
  code?: ErrorCode;
  reason?: string;
  /** Who compared a pinned key's fingerprint with the gateway's (a name and role they typed). */
  confirmedBy?: string;
  confirmedRole?: string;
}

export interface GatewayClientOptions {
  profile: GatewayProfile;
  tokens: TokenCaller;
  slotId: number;
  secrets: SecretProvider;
  /** Folder for the client's state file (gateway-<profileId>.json). */
  stateDir: string;
  onAudit?: (entry: GatewayAuditEntry) => void;
  logger?: Logger;
  /** Timeouts, size limit and retries of the HTTPS layer. */
  http?: Omit<HttpsJsonClientOptions, 'baseUrl' | 'tlsPinSha256' | 'logger'>;
  /** Capability probe; default asks the token each time a key is registered (TokensService.capabilities caches). */
  probe?: () => Promise<CapabilitiesResult>;
  /** Epoch ms; for set expiry and the token cache. */
  clock?: () => number;
  /** Where key-set unwraps and CSE encryptions are counted (the app's usage service). */
  usage?: KeyUseCounter | null;
}

export type TransportWrapping = 'RSAES-OAEP-SHA256' | 'RSAES-OAEP-SHA1';

const WRAPPING_OF: Record<'RSA_OAEP_SHA256' | 'RSA_OAEP_SHA1', TransportWrapping> = {
  RSA_OAEP_SHA256: 'RSAES-OAEP-SHA256',
  RSA_OAEP_SHA1: 'RSAES-OAEP-SHA1',
};
const MECHANISM_OF: Record<TransportWrapping, WrapMechanism> = {
  'RSAES-OAEP-SHA256': 'RSA_OAEP_SHA256',
  'RSAES-OAEP-SHA1': 'RSA_OAEP_SHA1',
};

export interface KeySetInfo {
  setId: string;
  wrappingKeyId: string;
  expiresAt: string;
}

export interface Registration {
  keyId: string;
  spkiSha256: string;
  wrapping: TransportWrapping;
  status: 'active';
  registeredAt: string;
  /** 201 on a first registration, 200 when it was already registered exactly so. */
  created: boolean;
  /** The installed first set, or why it was refused (then the next call asks for a fresh one). */
  keySet: KeySetInfo | { refused: ErrorCode };
}

export interface GatewayKeyView {
  keyId: string | null;
  spkiSha256: string;
  padding: CsePadding;
  source: 'fetched' | 'imported';
  seenAt: string;
  /** null: pinned, unconfirmed (nobody compared its fingerprint with the gateway's yet). */
  confirmed: PinConfirmation | null;
}

export interface GatewayKeyStatus {
  status: 'none' | 'pinned' | 'rotation-pending';
  pinned: GatewayKeyView | null;
  /** The key the gateway now serves, waiting for an admin's confirmation. */
  pending: GatewayKeyView | null;
  /** From the last fetch: earlier keys the gateway still accepts. */
  previous?: { keyId: string; spkiSha256: string; acceptedUntil: string }[];
}

export interface SigningKeyView {
  keyId: string | null;
  spkiSha256: string;
  source: 'fetched' | 'imported';
  seenAt: string;
  confirmed: PinConfirmation | null;
}

/** The gateway's key-set signing key (contract 1.1), pinned like the encryption key. */
export interface SigningKeyStatus {
  status: 'none' | 'pinned' | 'rotation-pending';
  pinned: SigningKeyView | null;
  pending: SigningKeyView | null;
  /** Keys replaced by a confirmed rotation whose sets are still accepted until then. */
  previous: { keyId: string | null; spkiSha256: string; acceptedUntil: string }[];
}

export interface SecureResult<T = unknown> {
  setId: string;
  response: T;
  /** The set the answer handed over: installed, or refused (the next call asks for a fresh one). */
  nextKeySet: KeySetInfo | { refused: ErrorCode };
}

export interface MerchantKeyListing {
  keyId: string;
  spkiSha256: string;
  status: 'active' | 'retired';
  registeredAt: string;
  retiredAt: string | null;
  wrapping?: string | undefined;
}

export type PayloadFieldName = 'card_number' | 'expiration' | 'cvv' | 'account_number' | 'routing_number';
export type PayloadFields = Partial<Record<PayloadFieldName, string>>;

export interface PayloadVerdict {
  received: boolean;
  length?: number;
  last4?: string;
  tag?: string;
  luhn_ok?: boolean;
  aba_ok?: boolean;
}

export interface VerifyPayloadResult {
  setId: string;
  fields: Partial<Record<PayloadFieldName, PayloadVerdict>>;
  /** For fields that get a tag: whether the gateway's tag matches HMAC-SHA256(salt, value) here. */
  tagMatches: Partial<Record<PayloadFieldName, boolean>>;
  nextKeySet: SecureResult['nextKeySet'];
}

export type { CseFieldName };

export interface CseVerifyRequest {
  padding: CsePadding;
  key_id?: string;
  /** base64 of 16+ random bytes */
  salt: string;
  fields: Partial<Record<CseFieldName, string>>;
}

export interface CseVerdict {
  decrypted: boolean;
  error?: string;
  length?: number;
  last4?: string;
  tag?: string;
  luhn_ok?: boolean;
  aba_ok?: boolean;
}

export type SandboxFault =
  | 'timeout'
  | '500'
  | 'truncated'
  | 'bad_kcv'
  | 'bad_mac'
  | 'replay_set'
  | 'unsigned_set'
  | 'forged_set'
  | 'none';

// ---------------------------------------------------------------- gateway answer shapes

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const PublicKeyAnswer = z.object({
  key_id: z.string().min(1).max(128),
  pem: z.string().min(1).max(16_384),
  spki_sha256: sha256Hex,
  padding: z.enum(['RSAES-PKCS1-V1_5', 'RSAES-OAEP-SHA256']),
  created_at: z.string(),
  previous: z
    .array(z.object({ key_id: z.string(), spki_sha256: sha256Hex, accepted_until: z.string() }))
    .default([]),
});
const SigningKeyAnswer = PublicKeyAnswer.omit({ padding: true });
const RegisterAnswer = z.object({
  key_id: z.string(),
  spki_sha256: sha256Hex,
  wrapping: z.enum(['RSAES-OAEP-SHA256', 'RSAES-OAEP-SHA1']),
  status: z.literal('active'),
  registered_at: z.string(),
  next_key_set: z.unknown(),
});
const MerchantKeysAnswer = z.object({
  keys: z.array(
    z.object({
      key_id: z.string(),
      spki_sha256: sha256Hex,
      status: z.enum(['active', 'retired']),
      registered_at: z.string(),
      retired_at: z.string().nullable(),
      wrapping: z.string().optional(),
    }),
  ),
});
const RetireAnswer = z.object({ key_id: z.string(), status: z.literal('retired'), retired_at: z.string() });
const KeySetAnswer = z.object({ next_key_set: z.unknown() });
const PingAnswer = z.object({ pong: z.literal(true), server_time: z.string() });
const PayloadVerdictSchema = z.object({
  received: z.boolean(),
  length: z.number().int().nonnegative().optional(),
  last4: z.string().max(4).optional(),
  tag: sha256Hex.optional(),
  luhn_ok: z.boolean().optional(),
  aba_ok: z.boolean().optional(),
});
const VerifyPayloadAnswer = z.object({ fields: z.record(z.string(), PayloadVerdictSchema) });
const CseVerdictSchema = z.object({
  decrypted: z.boolean(),
  error: z.string().max(64).optional(),
  length: z.number().int().nonnegative().optional(),
  last4: z.string().max(4).optional(),
  tag: sha256Hex.optional(),
  luhn_ok: z.boolean().optional(),
  aba_ok: z.boolean().optional(),
});
const SecureEnvelope = secureResponseSchema().omit({ next_key_set: true });
const CseVerifyAnswer = z.object({ fields: z.record(z.string(), CseVerdictSchema) });

function answer<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = issueLines(parsed.error);
  throw new MkmError('GATEWAY_BAD_RESPONSE', `${what}: ${issues[0]}`, { issues });
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const TAGGED: readonly PayloadFieldName[] = ['card_number', 'account_number', 'routing_number'];
/** A set closer than this to its expiry is not used: the message might arrive after it. */
const EXPIRY_MARGIN_MS = 10_000;

/** The set in use: ids of its two session objects in the token, never their values. */
type ActiveSet = KeySetRecord;

class SetLost extends Error {}

/** A key set's member, if it is a string (for refusals, before the set is validated). */
function member(raw: unknown, name: string): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const value = (raw as Record<string, unknown>)[name];
  return typeof value === 'string' ? value.slice(0, 128) : undefined;
}

/** What a pinned gateway key's record shows (never its PEM): the client's and the service's views. */
export function gatewayKeyView(record: GatewayKeyRecord | null): GatewayKeyView | null {
  return record
    ? {
        keyId: record.keyId,
        spkiSha256: record.spkiSha256,
        padding: record.padding,
        source: record.source,
        seenAt: record.seenAt,
        confirmed: record.confirmed ?? null,
      }
    : null;
}

export function signingKeyView(record: SigningKeyRecord | null): SigningKeyView | null {
  return record
    ? {
        keyId: record.keyId,
        spkiSha256: record.spkiSha256,
        source: record.source,
        seenAt: record.seenAt,
        confirmed: record.confirmed ?? null,
      }
    : null;
}

/** Where a pinned key lives in the state file, and the name its audit entries go under. */
type PinSlot = 'gatewayKey' | 'signingKey';
const PIN_AUDIT = { gatewayKey: 'gateway-key', signingKey: 'signing-key' } as const;

export class GatewayClient {
  readonly profile: GatewayProfile;
  private readonly http: HttpsJsonClient;
  private readonly session: GatewaySession;
  private readonly store: GatewayStateStore;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly slotId: number;
  private readonly tokens: TokenCaller;
  private set: ActiveSet | null = null;
  private leftoversHandled = false;
  /**
   * Key-set objects the token failed to destroy (it errored, or was pulled and put back): a
   * discarded set's keys must not stay usable in the token, so they are tried again before the
   * next set is used.
   */
  private readonly undestroyed = new Set<string>();
  /** An unwrap failed: the token may hold a key it made but never named; look before the next set. */
  private strayCheck = false;
  private probed: CapabilitiesResult | null = null;
  private lastPrevious: GatewayKeyStatus['previous'];
  /** The signing key's `previous` from the last fetch: their grace, kept when a rotation is confirmed. */
  private lastSigningPrevious: { spkiSha256: string; acceptedUntil: string }[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private skewMs = 0;

  constructor(private readonly options: GatewayClientOptions) {
    this.profile = options.profile;
    this.slotId = options.slotId;
    this.tokens = options.tokens;
    this.logger = (options.logger ?? silentLogger).child({ gatewayProfile: options.profile.id });
    this.clock = options.clock ?? Date.now;
    this.http = new HttpsJsonClient({
      ...options.http,
      baseUrl: options.profile.baseUrl,
      tlsPinSha256: options.profile.tlsPinSha256,
      logger: this.logger,
    });
    this.session = new GatewaySession({
      http: this.http,
      profileId: options.profile.id,
      username: options.profile.username,
      secrets: options.secrets,
      passwordEnv: options.profile.passwordEnv,
      clock: this.clock,
      onSignIn: (r) =>
        this.audit({ action: 'session.sign-in', result: r.ok ? 'ok' : 'error', code: r.code as ErrorCode }),
    });
    this.store = new GatewayStateStore(options.stateDir, options.profile.id);
  }

  // ------------------------------------------------------------------ plumbing

  private audit(entry: Omit<GatewayAuditEntry, 'profileId'>): void {
    const full: GatewayAuditEntry = { profileId: this.profile.id, ...entry };
    for (const key of Object.keys(full) as (keyof GatewayAuditEntry)[]) {
      if (full[key] === undefined) delete full[key];
    }
    this.logger.info('gateway audit', { ...full });
    try {
      this.options.onAudit?.(full);
    } catch (error) {
      this.logger.error('audit sink failed', { action: full.action, code: (error as MkmError).code });
    }
  }

  /** Runs one public operation at a time (key sets are one-use). */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The gateway's idea of now. `expires_at` is the gateway's clock; a merchant PC whose clock
   * is off by more than a set's lifetime would otherwise refuse every set (or use expired ones).
   * The offset comes from the HTTP Date header of the gateway's answers (1 s resolution).
   */
  private gatewayNow(): number {
    return this.clock() + this.skewMs;
  }

  private observe(reply: JsonResponse): void {
    const date = reply.headers.date;
    const at = typeof date === 'string' ? Date.parse(date) : NaN;
    // +500 ms: the header is truncated to the second.
    if (Number.isFinite(at)) this.skewMs = at + 500 - this.clock();
  }

  /**
   * A logged-out token hides its private objects, so the host reports KEY_NOT_FOUND for the
   * transport key and the set's keys. Say what it is: the admin must log in. (C_Logout also
   * destroys private session objects, PKCS#11 v2.40 §5.6, so the set itself is gone; the next
   * attempt after the login finds that out and asks for a fresh set before sending anything.)
   */
  private async explainTokenError(error: unknown): Promise<unknown> {
    if (this.codeOf(error) !== 'KEY_NOT_FOUND') return error;
    try {
      const slots = await this.tokens.call('listSlots', {});
      const slot = slots.find((s) => s.slotId === this.slotId);
      if (slot && slot.token && !slot.session.loggedIn) {
        return new MkmError('NOT_LOGGED_IN', 'Log in to the token to use the gateway keys.', {
          slotId: this.slotId,
        });
      }
    } catch {
      // The original error is the better report.
    }
    return error;
  }

  private codeOf(error: unknown): ErrorCode {
    return error instanceof MkmError ? error.code : 'INTERNAL';
  }

  private async destroySecret(id: string): Promise<void> {
    try {
      await this.tokens.call('destroyObject', { slotId: this.slotId, id, class: 'secret', confirm: true });
      this.undestroyed.delete(id);
    } catch (error) {
      // Gone already (a restarted host took its session objects with it) is what we wanted.
      if (this.codeOf(error) === 'KEY_NOT_FOUND') {
        this.undestroyed.delete(id);
        return;
      }
      this.undestroyed.add(id);
      this.logger.warn('a key set object could not be destroyed', { keyId: id, code: this.codeOf(error) });
      throw error;
    }
  }

  private async destroySetObjects(set: KeySetRecord): Promise<void> {
    const results = await Promise.allSettled([
      this.destroySecret(set.encKeyId),
      this.destroySecret(set.macKeyId),
    ]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Drops the current set (destroyed in the token, forgotten on disk). */
  private async discardSet(reason: string, set: KeySetRecord | null = this.set): Promise<void> {
    if (!set) return;
    if (this.set?.setId === set.setId) this.set = null;
    let code: ErrorCode | undefined;
    try {
      await this.destroySetObjects(set);
    } catch (error) {
      code = this.codeOf(error);
      throw error;
    } finally {
      if (this.store.state.keySet?.setId === set.setId) this.store.update((s) => void (s.keySet = null));
      this.audit({
        action: 'key-set.discard',
        result: code ? 'error' : 'ok',
        setId: set.setId,
        reason,
        ...(code ? { code } : {}),
      });
    }
  }

  /**
   * A set recorded by an earlier process (or an earlier client over the same host): its objects
   * died with that host, or linger in this one; either way it is never used again.
   */
  private async handleLeftovers(): Promise<void> {
    await this.destroyStrays();
    if (this.leftoversHandled) return;
    const left = this.store.state.keySet;
    if (left && left.setId !== this.set?.setId) {
      try {
        await this.discardSet('restart', left);
      } catch (error) {
        this.logger.warn('leftover key set objects not destroyed', {
          setId: left.setId,
          code: this.codeOf(error),
        });
      }
    }
    this.leftoversHandled = true;
  }

  /** The profile is in the label, so a sweep for this client's strays never touches another profile's set. */
  private setLabel(keyType: 'aes-256' | 'hmac-256'): string {
    return `mkm gateway set ${keyType === 'aes-256' ? 'enc' : 'mac'} ${this.profile.id}`;
  }

  /**
   * Destroys what must not stay in the token: set keys whose destruction failed, and (after a
   * failed unwrap, which a token may report after making the key) session keys carrying this
   * profile's set labels that are not the current set.
   */
  private async destroyStrays(): Promise<void> {
    if (this.strayCheck) {
      try {
        const labels = new Set([this.setLabel('aes-256'), this.setLabel('hmac-256')]);
        const keep = new Set(this.set ? [this.set.encKeyId, this.set.macKeyId] : []);
        const objects = await this.tokens.call('listObjects', { slotId: this.slotId, class: 'secret' });
        for (const o of objects) {
          if (!o.token && labels.has(o.label) && !keep.has(o.id)) this.undestroyed.add(o.id);
        }
        this.strayCheck = false;
      } catch {
        // The token is still failing: looked for again before the next set.
      }
    }
    for (const id of [...this.undestroyed]) await this.destroySecret(id).catch(() => undefined);
  }

  private merchantKey(keyId: string): MerchantKeyRecord | undefined {
    return this.store.state.merchantKeys.find((k) => k.keyId === keyId);
  }

  // ------------------------------------------------------------------ merchant transport keys

  /** What the token can unwrap, strongest first. */
  async bestWrapping(): Promise<TransportWrapping> {
    this.probed ??= this.options.probe
      ? await this.options.probe()
      : await this.tokens.call('probeCapabilities', { slotId: this.slotId });
    const best = this.probed.bestOaepUnwrap;
    checkCapabilities(this.probed, 'keyset-unwrap');
    if (best === null) throw new MkmError('CAPABILITY_MISSING', undefined, { capability: 'rsaOaepUnwrap' });
    return WRAPPING_OF[best];
  }

  /**
   * Registers the token's RSA key `keyId` (CKA_ID hex, also its key_id at the gateway) as a
   * transport key, with the strongest OAEP the token can unwrap, and installs the first set.
   * Safe to repeat: the gateway answers the same registration again with a fresh set.
   */
  registerTransportKey(request: {
    keyId: string;
    label: string;
    /** The managed key it is (kept with the registration; an earlier link stays when absent). */
    link?: { logicalKeyId: string; versionId: string } | undefined;
  }): Promise<Registration> {
    return this.exclusive(async () => {
      await this.handleLeftovers();
      const keyId = request.keyId.toLowerCase();
      try {
        const exported = await this.tokens.call('exportPublicKey', {
          slotId: this.slotId,
          id: keyId,
          format: 'pem',
        });
        const wrapping = await this.bestWrapping();
        const reply = await this.session.call({
          method: 'POST',
          path: '/v1/encryption/merchant_keys',
          json: { key_id: keyId, public_key_pem: exported.pem, wrapping },
          idempotent: true,
        });
        this.observe(reply);
        const body = answer(RegisterAnswer, reply.body, 'merchant key registration');
        if (body.key_id !== keyId || body.spki_sha256 !== exported.spkiSha256 || body.wrapping !== wrapping) {
          throw new MkmError(
            'GATEWAY_BAD_RESPONSE',
            'The gateway registered something other than what was sent.',
            {
              reason: 'registration-mismatch',
            },
          );
        }
        const record: MerchantKeyRecord = {
          keyId,
          label: request.label,
          spkiSha256: body.spki_sha256,
          wrapping,
          modulusBytes: Math.ceil(exported.bits / 8),
          registeredAt: body.registered_at,
          status: 'active',
          retiredAt: null,
        };
        const earlier = this.merchantKey(keyId);
        const link =
          request.link ??
          (earlier?.logicalKeyId && earlier.versionId
            ? { logicalKeyId: earlier.logicalKeyId, versionId: earlier.versionId }
            : undefined);
        if (link) Object.assign(record, link);
        this.store.update((s) => {
          s.merchantKeys = s.merchantKeys.filter((k) => k.keyId !== keyId);
          s.merchantKeys.push(record);
        });
        this.audit({
          action: 'merchant-key.register',
          result: 'ok',
          keyId,
          fingerprint: body.spki_sha256,
          wrapping,
          reason: reply.status === 201 ? 'created' : 'already-registered',
        });
        const keySet = await this.installOrRefuse(body.next_key_set);
        return {
          keyId,
          spkiSha256: body.spki_sha256,
          wrapping,
          status: 'active' as const,
          registeredAt: body.registered_at,
          created: reply.status === 201,
          keySet,
        };
      } catch (error) {
        this.audit({ action: 'merchant-key.register', result: 'error', keyId, code: this.codeOf(error) });
        throw error;
      }
    });
  }

  listMerchantKeys(): Promise<MerchantKeyListing[]> {
    return this.exclusive(async () => {
      const reply = await this.session.call({
        method: 'GET',
        path: '/v1/encryption/merchant_keys',
        idempotent: true,
      });
      const body = answer(MerchantKeysAnswer, reply.body, 'merchant keys');
      // The gateway is the authority on status: a key retired elsewhere is retired here too.
      this.store.update((s) => {
        for (const k of s.merchantKeys) {
          const there = body.keys.find((g) => g.key_id === k.keyId);
          if (there && there.status === 'retired' && k.status !== 'retired') {
            k.status = 'retired';
            k.retiredAt = there.retired_at;
          }
        }
      });
      this.audit({ action: 'merchant-key.list', result: 'ok' });
      return body.keys.map((k) => ({
        keyId: k.key_id,
        spkiSha256: k.spki_sha256,
        status: k.status,
        registeredAt: k.registered_at,
        retiredAt: k.retired_at,
        wrapping: k.wrapping,
      }));
    });
  }

  /** No new set is wrapped under a retired key; sets already issued under it stay usable. */
  retireMerchantKey(keyId: string): Promise<{ keyId: string; status: 'retired'; retiredAt: string }> {
    return this.exclusive(async () => {
      try {
        const reply = await this.session.call({
          method: 'POST',
          path: `/v1/encryption/merchant_keys/${encodeURIComponent(keyId)}/retire`,
          json: {},
        });
        const body = answer(RetireAnswer, reply.body, 'retirement');
        this.store.update((s) => {
          const k = s.merchantKeys.find((m) => m.keyId === body.key_id);
          if (k) {
            k.status = 'retired';
            k.retiredAt = body.retired_at;
          }
        });
        this.audit({ action: 'merchant-key.retire', result: 'ok', keyId });
        return { keyId: body.key_id, status: 'retired' as const, retiredAt: body.retired_at };
      } catch (error) {
        this.audit({ action: 'merchant-key.retire', result: 'error', keyId, code: this.codeOf(error) });
        throw error;
      }
    });
  }

  merchantKeys(): readonly MerchantKeyRecord[] {
    return this.store.state.merchantKeys;
  }

  // ------------------------------------------------------------------ the gateway's CSE key

  private view(record: GatewayKeyRecord | null): GatewayKeyView | null {
    return gatewayKeyView(record);
  }

  gatewayKeyStatus(): GatewayKeyStatus {
    const { pinned, pending } = this.store.state.gatewayKey;
    return {
      status: pinned === null ? 'none' : pending === null ? 'pinned' : 'rotation-pending',
      pinned: this.view(pinned),
      pending: this.view(pending),
      ...(this.lastPrevious ? { previous: this.lastPrevious } : {}),
    };
  }

  /**
   * First sight pins; a different key later waits for an admin's confirmation (confirmPin), and
   * until then the pinned key stays the one in use. Both gateway keys follow this rule.
   */
  private considerPin(slot: PinSlot, candidate: GatewayKeyRecord | SigningKeyRecord): void {
    const { pinned, pending } = this.store.state[slot];
    const prefix = PIN_AUDIT[slot];
    if (pinned === null) {
      this.store.update((s) => {
        s[slot].pinned = candidate as GatewayKeyRecord;
        s[slot].pending = null;
      });
      this.audit({
        action: `${prefix}.pin`,
        result: 'ok',
        keyId: candidate.keyId ?? undefined,
        fingerprint: candidate.spkiSha256,
      });
    } else if (pinned.spkiSha256 === candidate.spkiSha256) {
      if (pending !== null) this.store.update((s) => void (s[slot].pending = null));
    } else if (pending?.spkiSha256 !== candidate.spkiSha256) {
      this.store.update((s) => void (s[slot].pending = candidate as GatewayKeyRecord));
      this.audit({
        action: `${prefix}.rotation-detected`,
        result: 'refused',
        keyId: candidate.keyId ?? undefined,
        fingerprint: candidate.spkiSha256,
        previousFingerprint: pinned.spkiSha256,
        reason: 'confirmation-required',
      });
    }
  }

  /** An admin accepts the pending key of `slot` (named by its fingerprint, as shown to them). */
  private confirmPin(slot: PinSlot, fingerprint: string): void {
    const { pinned, pending } = this.store.state[slot];
    const what = slot === 'gatewayKey' ? 'gateway key' : 'gateway signing key';
    if (pending === null) throw new MkmError('NOT_FOUND', `No ${what} rotation is waiting for confirmation.`);
    if (pending.spkiSha256 !== fingerprint.toLowerCase()) {
      throw new MkmError('CONFLICT', `The pending ${what} has another fingerprint; look at it again.`, {
        pending: pending.spkiSha256,
      });
    }
    // The replaced signing key still vouches for sets it signed, for the grace the gateway stated.
    const grace =
      slot === 'signingKey' && pinned
        ? this.lastSigningPrevious.find((p) => p.spkiSha256 === pinned.spkiSha256)
        : undefined;
    this.store.update((s) => {
      s[slot].pinned = pending as GatewayKeyRecord;
      s[slot].pending = null;
      if (slot === 'signingKey') {
        const now = this.gatewayNow();
        s.signingKey.previous = s.signingKey.previous.filter((p) => Date.parse(p.acceptedUntil) > now);
        if (grace && pinned) s.signingKey.previous.push({ ...(pinned as SigningKeyRecord), ...grace });
      }
    });
    this.audit({
      action: `${PIN_AUDIT[slot]}.rotation-confirmed`,
      result: 'ok',
      keyId: pending.keyId ?? undefined,
      fingerprint: pending.spkiSha256,
      ...(pinned ? { previousFingerprint: pinned.spkiSha256 } : {}),
    });
  }

  /**
   * A person compared the pinned key's fingerprint with the one the gateway's operator read out
   * (out of band) and says who they are: recorded in the sealed state file and the audit log.
   * A fingerprint that differs confirms nothing (PIN_FINGERPRINT_MISMATCH).
   */
  private confirmFirstPin(slot: PinSlot, fingerprint: string, by: string, role: string | null): void {
    const { pinned } = this.store.state[slot];
    const what = slot === 'gatewayKey' ? 'gateway key' : 'gateway signing key';
    const prefix = PIN_AUDIT[slot];
    if (pinned === null) throw new MkmError('NOT_FOUND', `No ${what} is pinned for this profile yet.`);
    const given = normalizeFingerprint(fingerprint);
    if (given === null) {
      throw new MkmError('VALIDATION', 'A fingerprint is 64 hex digits (spaces and colons allowed).');
    }
    const name = by.trim();
    if (!name) throw new MkmError('VALIDATION', 'Say who compared the fingerprint (a name).');
    if (given !== pinned.spkiSha256) {
      this.audit({
        action: `${prefix}.pin-confirmed`,
        result: 'refused',
        keyId: pinned.keyId ?? undefined,
        fingerprint: pinned.spkiSha256,
        code: 'PIN_FINGERPRINT_MISMATCH',
        confirmedBy: name,
        ...(role ? { confirmedRole: role } : {}),
      });
      throw new MkmError(
        'PIN_FINGERPRINT_MISMATCH',
        `The fingerprint given is not the pinned ${what}'s: nothing was confirmed. Read it again with the gateway operator; if it still differs, do not use this gateway.`,
        { pinned: pinned.spkiSha256, given },
      );
    }
    const confirmed: PinConfirmation = {
      by: name,
      role: role?.trim() || null,
      at: new Date(this.clock()).toISOString(),
    };
    this.store.update((s) => {
      s[slot].pinned!.confirmed = confirmed;
    });
    this.audit({
      action: `${prefix}.pin-confirmed`,
      result: 'ok',
      keyId: pinned.keyId ?? undefined,
      fingerprint: pinned.spkiSha256,
      confirmedBy: confirmed.by,
      ...(confirmed.role ? { confirmedRole: confirmed.role } : {}),
    });
  }

  confirmGatewayKeyPin(fingerprint: string, by: string, role: string | null): Promise<GatewayKeyStatus> {
    return this.exclusive(async () => {
      this.confirmFirstPin('gatewayKey', fingerprint, by, role);
      return this.gatewayKeyStatus();
    });
  }

  confirmSigningKeyPin(fingerprint: string, by: string, role: string | null): Promise<SigningKeyStatus> {
    return this.exclusive(async () => {
      this.confirmFirstPin('signingKey', fingerprint, by, role);
      return this.signingKeyStatus();
    });
  }

  fetchGatewayKey(): Promise<GatewayKeyStatus> {
    return this.exclusive(async () => {
      try {
        const reply = await this.session.call({
          method: 'GET',
          path: '/v1/encryption/public_key',
          idempotent: true,
        });
        const body = answer(PublicKeyAnswer, reply.body, 'gateway public key');
        const parsed = parseRsaPublicKey(body.pem);
        if (parsed.spkiSha256 !== body.spki_sha256) {
          throw new MkmError(
            'GATEWAY_BAD_RESPONSE',
            "The gateway's key does not match the fingerprint it states.",
            {
              reason: 'fingerprint-mismatch',
            },
          );
        }
        this.lastPrevious = body.previous.map((p) => ({
          keyId: p.key_id,
          spkiSha256: p.spki_sha256,
          acceptedUntil: p.accepted_until,
        }));
        this.audit({
          action: 'gateway-key.fetch',
          result: 'ok',
          keyId: body.key_id,
          fingerprint: parsed.spkiSha256,
        });
        this.considerPin('gatewayKey', {
          keyId: body.key_id,
          spkiSha256: parsed.spkiSha256,
          pem: parsed.keyObject.export({ type: 'spki', format: 'pem' }) as string,
          padding: body.padding,
          source: 'fetched',
          seenAt: new Date(this.clock()).toISOString(),
        });
        return this.gatewayKeyStatus();
      } catch (error) {
        this.audit({ action: 'gateway-key.fetch', result: 'error', code: this.codeOf(error) });
        throw error;
      }
    });
  }

  /** For a gateway without a public_key endpoint (PayTrace): the PEM file, same checks. */
  importGatewayKeyPem(pem: string, padding?: CsePadding): Promise<GatewayKeyStatus> {
    return this.exclusive(async () => {
      const parsed = parseRsaPublicKey(pem);
      this.audit({ action: 'gateway-key.import', result: 'ok', fingerprint: parsed.spkiSha256 });
      this.considerPin('gatewayKey', {
        keyId: null,
        spkiSha256: parsed.spkiSha256,
        pem: parsed.keyObject.export({ type: 'spki', format: 'pem' }) as string,
        padding: padding ?? this.profile.scheme.cse?.padding ?? 'RSAES-PKCS1-V1_5',
        source: 'imported',
        seenAt: new Date(this.clock()).toISOString(),
      });
      return this.gatewayKeyStatus();
    });
  }

  /** An admin accepts the pending key (named by its fingerprint, as shown to them). */
  confirmGatewayKeyRotation(fingerprint: string): Promise<GatewayKeyStatus> {
    return this.exclusive(async () => {
      this.confirmPin('gatewayKey', fingerprint);
      return this.gatewayKeyStatus();
    });
  }

  // ------------------------------------------------------------------ the gateway's signing key

  signingKeyStatus(): SigningKeyStatus {
    const { pinned, pending, previous } = this.store.state.signingKey;
    const view = signingKeyView;
    return {
      status: pinned === null ? 'none' : pending === null ? 'pinned' : 'rotation-pending',
      pinned: view(pinned),
      pending: view(pending),
      previous: previous.map((p) => ({
        keyId: p.keyId,
        spkiSha256: p.spkiSha256,
        acceptedUntil: p.acceptedUntil,
      })),
    };
  }

  /** A signing key candidate: RSA of 3072 bits or more, and never the key that decrypts card data. */
  private signingCandidate(
    pem: string,
    keyId: string | null,
    source: 'fetched' | 'imported',
  ): SigningKeyRecord {
    const parsed = parseRsaPublicKey(pem, { minBits: SIGNING_KEY_MIN_BITS });
    const encryption = this.store.state.gatewayKey;
    if ([encryption.pinned, encryption.pending].some((k) => k?.spkiSha256 === parsed.spkiSha256)) {
      throw new MkmError(
        'GATEWAY_BAD_RESPONSE',
        "The gateway's signing key is its encryption key; it is refused.",
        {
          reason: 'signing-key-is-encryption-key',
        },
      );
    }
    return {
      keyId,
      spkiSha256: parsed.spkiSha256,
      pem: parsed.keyObject.export({ type: 'spki', format: 'pem' }) as string,
      source,
      seenAt: new Date(this.clock()).toISOString(),
    };
  }

  /** GET /v1/encryption/signing_key: pinned on first sight, a rotation to confirm after. */
  fetchSigningKey(): Promise<SigningKeyStatus> {
    return this.exclusive(() => this.fetchSigning());
  }

  private async fetchSigning(): Promise<SigningKeyStatus> {
    try {
      const reply = await this.session.call({
        method: 'GET',
        path: '/v1/encryption/signing_key',
        idempotent: true,
      });
      this.observe(reply);
      const body = answer(SigningKeyAnswer, reply.body, 'gateway signing key');
      const candidate = this.signingCandidate(body.pem, body.key_id, 'fetched');
      if (candidate.spkiSha256 !== body.spki_sha256) {
        throw new MkmError(
          'GATEWAY_BAD_RESPONSE',
          "The gateway's signing key does not match the fingerprint it states.",
          {
            reason: 'fingerprint-mismatch',
          },
        );
      }
      this.lastSigningPrevious = body.previous.map((p) => ({
        spkiSha256: p.spki_sha256,
        acceptedUntil: p.accepted_until,
      }));
      this.audit({
        action: 'signing-key.fetch',
        result: 'ok',
        keyId: body.key_id,
        fingerprint: candidate.spkiSha256,
      });
      this.considerPin('signingKey', candidate);
      return this.signingKeyStatus();
    } catch (error) {
      this.audit({ action: 'signing-key.fetch', result: 'error', code: this.codeOf(error) });
      throw error;
    }
  }

  /** The signing key's PEM, imported by hand (a gateway without the endpoint); same checks. */
  importSigningKeyPem(pem: string): Promise<SigningKeyStatus> {
    return this.exclusive(async () => {
      const candidate = this.signingCandidate(pem, null, 'imported');
      this.audit({ action: 'signing-key.import', result: 'ok', fingerprint: candidate.spkiSha256 });
      this.considerPin('signingKey', candidate);
      return this.signingKeyStatus();
    });
  }

  confirmSigningKeyRotation(fingerprint: string): Promise<SigningKeyStatus> {
    return this.exclusive(async () => {
      this.confirmPin('signingKey', fingerprint);
      return this.signingKeyStatus();
    });
  }

  /**
   * Whether the set's `sig` verifies under a key this client trusts for it: the pinned key, or a
   * key replaced by a confirmed rotation before its `acceptedUntil`. A pending key never counts.
   */
  private signatureHolds(
    raw: Record<string, unknown>,
  ): 'ok' | 'unsigned' | 'unknown-signing-key' | 'bad-signature' {
    if (raw.sig === undefined) return 'unsigned';
    const { pinned, previous } = this.store.state.signingKey;
    const now = this.gatewayNow();
    const trusted = [
      ...(pinned ? [pinned] : []),
      ...previous.filter((p) => Date.parse(p.acceptedUntil) > now),
    ];
    const named = raw.signing_key_id;
    // A key imported by hand has no id: it answers for any id (the signature decides).
    const candidates = trusted.filter((k) => k.keyId === null || k.keyId === named);
    if (candidates.length === 0) return 'unknown-signing-key';
    return candidates.some((k) =>
      keySetSignatureValid(parseRsaPublicKey(k.pem, { minBits: SIGNING_KEY_MIN_BITS }), raw),
    )
      ? 'ok'
      : 'bad-signature';
  }

  /** The pinned gateway key (never the pending one). */
  pinnedGatewayKey(): (RsaPublicKey & { keyId: string | null; padding: CsePadding }) | null {
    const pinned = this.store.state.gatewayKey.pinned;
    if (!pinned) return null;
    return { ...parseRsaPublicKey(pinned.pem), keyId: pinned.keyId, padding: pinned.padding };
  }

  /**
   * Client-side encryption of clear values under the pinned key, ready for verifyCse. The
   * values are used for the call only.
   */
  encryptCseFields(
    values: Partial<Record<CseFieldName, string>>,
    salt?: Uint8Array,
    padding?: CsePadding,
  ): CseVerifyRequest {
    const key = this.pinnedGatewayKey();
    if (!key)
      throw new MkmError('NOT_FOUND', "The gateway's public key is not known yet; fetch or import it first.");
    // `padding`: what the caller composed (the console's round trip), else what the gateway advertises.
    const used = padding ?? key.padding;
    const fields: Partial<Record<CseFieldName, string>> = {};
    for (const [name, value] of Object.entries(values) as [CseFieldName, string | undefined][]) {
      if (value !== undefined) fields[name] = encryptField(key.keyObject, value, used);
    }
    countGatewayKeyUse(this.options.usage, key.spkiSha256, Object.keys(fields).length);
    return {
      padding: used,
      ...(key.keyId ? { key_id: key.keyId } : {}),
      salt: b64(salt ?? randomBytes(16)),
      fields,
    };
  }

  /** POST /v1/encryption/verify (rate-limited at the gateway: GATEWAY_RATE_LIMITED). */
  verifyCse(request: CseVerifyRequest): Promise<{ fields: Partial<Record<CseFieldName, CseVerdict>> }> {
    return this.exclusive(async () => {
      try {
        const reply = await this.session.call({
          method: 'POST',
          path: '/v1/encryption/verify',
          json: request,
        });
        const body = answer(CseVerifyAnswer, reply.body, 'verify');
        this.audit({ action: 'cse.verify', result: 'ok', keyId: request.key_id });
        return { fields: body.fields as Partial<Record<CseFieldName, CseVerdict>> };
      } catch (error) {
        this.audit({
          action: 'cse.verify',
          result: 'error',
          keyId: request.key_id,
          code: this.codeOf(error),
        });
        throw error;
      }
    });
  }

  // ------------------------------------------------------------------ key sets

  /** The set the next message will use, if any (ids and expiry only). */
  currentKeySet(): KeySetInfo | null {
    return this.set
      ? { setId: this.set.setId, wrappingKeyId: this.set.wrappingKeyId, expiresAt: this.set.expiresAt }
      : null;
  }

  /**
   * Validates a `next_key_set`, unwraps both keys into the token as session objects, checks
   * their KCVs there, and makes it the set for the next message. Refused, with the current set
   * and the state file untouched: a set not signed by the pinned signing key, not for this
   * merchant, or wrapped under a key that is not ours (KEY_SET_SIGNATURE), a malformed one
   * (GATEWAY_BAD_RESPONSE), one already used (KEY_SET_USED), expired (KEY_SET_EXPIRED), or a
   * KCV mismatch (KCV_MISMATCH; the unwrapped objects are destroyed).
   */
  installKeySet(nextKeySet: unknown): Promise<KeySetInfo> {
    return this.exclusive(async () => {
      await this.stateSealHolds();
      await this.handleLeftovers();
      return this.install(nextKeySet);
    });
  }

  private async install(raw: unknown): Promise<KeySetInfo> {
    const wrappingKeyId = member(raw, 'wrapping_key_id');
    const setIdGuess = member(raw, 'set_id');
    const refuse = (error: MkmError): never => {
      this.audit({
        action: 'key-set.install',
        result: 'refused',
        setId: setIdGuess,
        keyId: wrappingKeyId,
        code: error.code,
        ...(typeof error.details?.reason === 'string' ? { reason: error.details.reason } : {}),
      });
      throw error;
    };
    // Contract 1.1: nothing of a set is used (not even handed to the token) before the gateway's
    // signing key vouches for it, for this merchant, under one of this merchant's keys.
    const forged = (reason: string, extra: Record<string, string> = {}) =>
      refuse(
        new MkmError(
          'KEY_SET_SIGNATURE',
          reason === 'unsigned'
            ? 'The gateway handed over an unsigned key set (contract 1.0); a 1.1 client refuses it.'
            : reason === 'no-signing-key'
              ? "The gateway's signing key is not pinned and could not be fetched; fetch it or import its PEM."
              : "The key set is not vouched for by the gateway's pinned signing key; it is refused.",
          { reason, ...extra },
        ),
      );
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      return refuse(new MkmError('GATEWAY_BAD_RESPONSE', 'next_key_set: not an object', { reason: 'shape' }));
    }
    const signed = raw as Record<string, unknown>;
    if (this.store.state.signingKey.pinned === null) {
      // First sight pins (as for the encryption key); a gateway without the endpoint needs its PEM.
      try {
        await this.fetchSigning();
      } catch (error) {
        return forged('no-signing-key', { cause: this.codeOf(error) });
      }
    }
    const verdict = this.signatureHolds(signed);
    if (verdict !== 'ok') {
      if (verdict === 'unknown-signing-key') {
        // Perhaps the gateway rotated its signing key: record it as pending, for an admin to see.
        await this.fetchSigning().catch(() => undefined);
      }
      return forged(verdict, setIdGuess ? { setId: setIdGuess } : {});
    }
    if (signed.merchant !== this.profile.username) return forged('merchant-mismatch');
    const owner = wrappingKeyId === undefined ? undefined : this.merchantKey(wrappingKeyId);
    if (!owner) return forged('foreign-wrapping-key', wrappingKeyId ? { wrappingKeyId } : {});
    let set: NextKeySet;
    try {
      set = parseNextKeySet(raw, owner.modulusBytes);
    } catch (error) {
      return refuse(error as MkmError);
    }
    if (this.store.state.usedSetIds.includes(set.set_id) || this.set?.setId === set.set_id) {
      return refuse(
        new MkmError(
          'KEY_SET_USED',
          'The gateway handed over a key set that was already used; it is refused.',
          {
            reason: 'replayed',
            setId: set.set_id,
          },
        ),
      );
    }
    if (Date.parse(set.expires_at) - EXPIRY_MARGIN_MS <= this.gatewayNow()) {
      return refuse(
        new MkmError('KEY_SET_EXPIRED', undefined, { setId: set.set_id, reason: 'expired-on-arrival' }),
      );
    }
    const mechanism = MECHANISM_OF[owner.wrapping];
    const unwrap = (wrapped: Uint8Array, keyType: 'aes-256' | 'hmac-256') =>
      countedUse(this.options.usage, { slotId: this.slotId, id: owner.keyId }, 'key-set-unwrap', 1, () =>
        this.tokens.call('unwrapKey', {
          slotId: this.slotId,
          unwrappingKeyId: owner.keyId,
          mechanism,
          wrapped: b64(wrapped),
          keyType,
          label: this.setLabel(keyType),
          token: false,
        }),
      );
    let enc: HsmResult<'unwrapKey'>;
    try {
      enc = await unwrap(set.enc_key, 'aes-256');
    } catch (error) {
      this.strayCheck = true;
      await this.destroyStrays();
      return refuse((await this.explainTokenError(error)) as MkmError);
    }
    let mac: HsmResult<'unwrapKey'>;
    try {
      mac = await unwrap(set.mac_key, 'hmac-256');
    } catch (error) {
      await this.destroySecret(enc.id).catch(() => undefined);
      this.strayCheck = true;
      await this.destroyStrays();
      return refuse(error as MkmError);
    }
    const wrong =
      enc.method !== 'cmac' || enc.kcv !== set.enc_kcv
        ? 'enc'
        : mac.method !== 'hmac' || mac.kcv !== set.mac_kcv
          ? 'mac'
          : null;
    if (wrong) {
      await Promise.allSettled([this.destroySecret(enc.id), this.destroySecret(mac.id)]);
      return refuse(
        new MkmError(
          'KCV_MISMATCH',
          `The gateway's ${wrong === 'enc' ? 'encryption' : 'MAC'} key does not match its check value; the key set is refused.`,
          {
            setId: set.set_id,
            key: wrong,
            expected: wrong === 'enc' ? set.enc_kcv : set.mac_kcv,
            actual: wrong === 'enc' ? enc.kcv : mac.kcv,
          },
        ),
      );
    }
    const previous = this.set;
    const record: ActiveSet = {
      setId: set.set_id,
      wrappingKeyId: owner.keyId,
      iv: b64(set.iv),
      expiresAt: set.expires_at,
      encKeyId: enc.id,
      macKeyId: mac.id,
    };
    // One set at a time: a newer set replaces an unused older one (which simply expires at the gateway).
    if (previous) await this.discardSet('replaced', previous).catch(() => undefined);
    this.set = record;
    this.store.update((s) => {
      s.keySet = {
        setId: record.setId,
        wrappingKeyId: record.wrappingKeyId,
        iv: record.iv,
        expiresAt: record.expiresAt,
        encKeyId: record.encKeyId,
        macKeyId: record.macKeyId,
      };
    });
    this.audit({ action: 'key-set.install', result: 'ok', setId: set.set_id, keyId: owner.keyId });
    return { setId: record.setId, wrappingKeyId: record.wrappingKeyId, expiresAt: record.expiresAt };
  }

  /**
   * Key-set work starts here (explicit installs, set requests, secure messages, whose answers
   * install the next set): the state file's seal must hold first. Its pinned signing key decides
   * which sets are trusted, and this work writes the file (leftovers, used ids, the new set), so
   * a client that read a tampered file would both trust the swapped key and seal the swap as its
   * own. Refused (STATE_TAMPERED, or STATE_UNCHECKED with no audit key) before anything is
   * written or handed to the token. One check per call: it runs inside the call's exclusive turn.
   */
  private async stateSealHolds(): Promise<void> {
    try {
      await checkState(this.store.file, 'the gateway state (its pinned keys and key sets)');
    } catch (error) {
      this.audit({ action: 'key-set.install', result: 'refused', code: this.codeOf(error) });
      throw error;
    }
  }

  /** Installs, or records why not (the next message then asks for a fresh set). */
  private async installOrRefuse(raw: unknown): Promise<KeySetInfo | { refused: ErrorCode }> {
    try {
      return await this.install(raw);
    } catch (error) {
      this.logger.warn('key set refused', { code: this.codeOf(error) });
      return { refused: this.codeOf(error) };
    }
  }

  /** POST /v1/encryption/key_sets and install the answer. */
  requestKeySet(): Promise<KeySetInfo> {
    return this.exclusive(async () => {
      await this.stateSealHolds();
      await this.handleLeftovers();
      return this.requestSet();
    });
  }

  private async requestSet(): Promise<KeySetInfo> {
    let reply: JsonResponse;
    try {
      reply = await this.session.call({ method: 'POST', path: '/v1/encryption/key_sets', json: {} });
    } catch (error) {
      this.audit({ action: 'key-set.request', result: 'error', code: this.codeOf(error) });
      throw error;
    }
    this.observe(reply);
    const body = answer(KeySetAnswer, reply.body, 'key set');
    this.audit({ action: 'key-set.request', result: 'ok' });
    return this.install(body.next_key_set);
  }

  /** The current set if it can still carry a message; otherwise a fresh one. */
  private async usableSet(): Promise<ActiveSet> {
    await this.stateSealHolds();
    await this.handleLeftovers();
    if (this.set && Date.parse(this.set.expiresAt) - EXPIRY_MARGIN_MS > this.gatewayNow()) return this.set;
    if (this.set) await this.discardSet('expired');
    try {
      await this.requestSet();
    } catch (error) {
      // A refused set (bad KCV, replayed id, a signature that does not hold) is a one-off
      // mistake or a forgery on the way: ask once more, then give up with the refusal.
      const code = this.codeOf(error);
      const oneOff = ['KCV_MISMATCH', 'KEY_SET_USED', 'KEY_SET_EXPIRED', 'KEY_SET_SIGNATURE'];
      if (!oneOff.includes(code)) throw error;
      await this.requestSet();
    }
    return this.set!;
  }

  // ------------------------------------------------------------------ secure messages

  /**
   * One secure message: encrypted and MACed in the token under a one-use set, the answer's MAC
   * checked in the token before it is decrypted there. A refused set (KEY_SET_USED, _EXPIRED,
   * _UNKNOWN) is replaced by the set the refusal carries and the message sent once more.
   */
  secure<T = unknown>(operation: string, body: Record<string, unknown>): Promise<SecureResult<T>> {
    if (!/^[a-z_]{1,64}$/.test(operation)) {
      return Promise.reject(
        new MkmError('VALIDATION', 'Unknown secure operation.', { operation: operation.slice(0, 64) }),
      );
    }
    return this.exclusive(async () => {
      for (let attempt = 0; ; attempt++) {
        const set = await this.usableSet();
        try {
          return (await this.sendOnce(operation, body, set)) as SecureResult<T>;
        } catch (error) {
          if (attempt === 0 && error instanceof SetLost) continue;
          if (
            attempt === 0 &&
            error instanceof MkmError &&
            ['KEY_SET_USED', 'KEY_SET_EXPIRED', 'KEY_SET_UNKNOWN'].includes(error.code)
          ) {
            continue;
          }
          if (error instanceof SetLost) {
            throw new MkmError('KEY_NOT_FOUND', 'The key set is no longer in the token; try again.');
          }
          throw error;
        }
      }
    });
  }

  private async sendOnce(
    operation: string,
    body: Record<string, unknown>,
    set: ActiveSet,
  ): Promise<SecureResult> {
    const keys = { slotId: this.slotId, setId: set.setId, encKeyId: set.encKeyId, macKeyId: set.macKeyId };
    let sealed;
    try {
      sealed = await sealInToken(this.tokens, keys, Buffer.from(set.iv, 'base64'), body);
    } catch (error) {
      // Nothing was sent. Objects gone while logged in (host restarted): the set is lost, not
      // used. Logged out or another token failure: reported as such; the next attempt decides.
      const explained = await this.explainTokenError(error);
      if (this.codeOf(explained) === 'KEY_NOT_FOUND') {
        await this.discardSet('token-lost').catch(() => undefined);
        throw new SetLost();
      }
      throw explained;
    }

    // From here the set counts as used, whatever happens to the request.
    this.set = null;
    this.store.update((s) => void s.usedSetIds.push(set.setId));
    const done = async (reason: string) => {
      await this.discardSet(reason, set).catch(() => undefined);
    };

    let reply: JsonResponse;
    try {
      reply = await this.session.call({
        method: 'POST',
        path: `/v1/secure/${operation}`,
        json: sealed,
      });
    } catch (error) {
      await done('sent');
      this.audit({
        action: 'secure.send',
        result: 'error',
        operation,
        setId: set.setId,
        code: this.codeOf(error),
      });
      // Refusals from the set check on carry the next set: install it for the retry or the next call.
      if (error instanceof GatewayHttpError && typeof error.body === 'object' && error.body !== null) {
        const carried = (error.body as { next_key_set?: unknown }).next_key_set;
        if (carried !== undefined) await this.installOrRefuse(carried);
      }
      if (error instanceof MkmError && error.code === 'MAC_INVALID') {
        throw new MkmError('MAC_INVALID', 'The gateway could not authenticate the message.', {
          side: 'request',
          setId: set.setId,
        });
      }
      throw error;
    }

    this.observe(reply);
    try {
      // The next set is checked on its own by install(): a bad one must not cost the answer.
      const parsed = SecureEnvelope.safeParse(reply.body);
      if (!parsed.success) {
        throw new MkmError('GATEWAY_BAD_RESPONSE', 'The secure answer has the wrong shape.', {
          reason: 'envelope',
          issues: issueLines(parsed.error),
        });
      }
      const envelope = parsed.data;
      if (envelope.set_id !== set.setId) {
        throw new MkmError('GATEWAY_BAD_RESPONSE', 'The secure answer is for another key set.', {
          reason: 'set-id',
        });
      }
      const response = await openInToken(this.tokens, keys, envelope);
      await done('used');
      this.audit({ action: 'secure.send', result: 'ok', operation, setId: set.setId });
      const nextKeySet = await this.installOrRefuse((reply.body as { next_key_set?: unknown }).next_key_set);
      return { setId: set.setId, response, nextKeySet };
    } catch (error) {
      await done('used');
      this.audit({
        action: 'secure.send',
        result: 'refused',
        operation,
        setId: set.setId,
        code: this.codeOf(error),
      });
      throw error;
    }
  }

  /** Secure `ping`. */
  async ping(): Promise<SecureResult<{ pong: true; serverTime: string }>> {
    const result = await this.secure('ping', {});
    const body = answer(PingAnswer, result.response, 'ping');
    return { ...result, response: { pong: true, serverTime: body.server_time } };
  }

  /**
   * The payload console's round trip. `salt` (16+ bytes) is fresh per call when not given; the
   * gateway's tags are checked here against HMAC-SHA256(salt, value).
   */
  async verifyPayload(fields: PayloadFields, salt?: Uint8Array): Promise<VerifyPayloadResult> {
    const saltBytes = salt ?? randomBytes(16);
    if (saltBytes.length < 16)
      throw new MkmError('VALIDATION', 'The salt needs at least 16 bytes.', { field: 'salt' });
    const result = await this.secure('verify_payload', { salt: b64(saltBytes), fields });
    const body = answer(VerifyPayloadAnswer, result.response, 'verify_payload');
    const tagMatches: VerifyPayloadResult['tagMatches'] = {};
    for (const name of TAGGED) {
      const value = fields[name];
      const given = body.fields[name]?.tag;
      if (value === undefined) continue;
      const expected = createHmac('sha256', saltBytes).update(value, 'utf8').digest();
      tagMatches[name] = given !== undefined && timingSafeEqual(expected, Buffer.from(given, 'hex'));
    }
    return {
      setId: result.setId,
      fields: body.fields as VerifyPayloadResult['fields'],
      tagMatches,
      nextKeySet: result.nextKeySet,
    };
  }

  // ------------------------------------------------------------------ sandbox only

  /** POST /sandbox/faults (the sandbox gateway only). */
  sandboxArmFault(next: SandboxFault): Promise<void> {
    return this.exclusive(async () => {
      // Arming is idempotent (it replaces what is armed), so a lost answer may be asked again.
      await this.session.call({ method: 'POST', path: '/sandbox/faults', json: { next }, idempotent: true });
      this.audit({ action: 'sandbox.fault', result: 'ok', reason: next });
    });
  }

  /** POST /sandbox/rotate_signing_key (the sandbox gateway only). */
  sandboxRotateSigningKey(): Promise<void> {
    return this.exclusive(async () => {
      await this.session.call({ method: 'POST', path: '/sandbox/rotate_signing_key', json: {} });
      this.audit({ action: 'sandbox.rotate-signing-key', result: 'ok' });
    });
  }

  /** POST /sandbox/rotate_public_key (the sandbox gateway only). */
  sandboxRotatePublicKey(): Promise<void> {
    return this.exclusive(async () => {
      await this.session.call({ method: 'POST', path: '/sandbox/rotate_public_key', json: {} });
      this.audit({ action: 'sandbox.rotate-public-key', result: 'ok' });
    });
  }

  /** Destroys the current set's objects in the token (the set simply expires at the gateway). */
  close(): Promise<void> {
    return this.exclusive(async () => {
      await this.discardSet('closed').catch(() => undefined);
      this.session.invalidate();
    });
  }
}
