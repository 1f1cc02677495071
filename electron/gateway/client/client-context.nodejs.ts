import { MkmError, type ErrorCode } from '../../../shared/errors.std';
import { issueLines } from '../../../shared/formats/schemas.std';
import type { CapabilitiesResult } from '../../../shared/tokens.std';
import { silentLogger, type Logger } from '../../core/logger.nodejs';
import { z } from 'zod';
import { HttpsJsonClient, type HttpsJsonClientOptions, type JsonResponse } from './https.nodejs';
import type { GatewayProfile, SecretProvider } from './profiles.nodejs';
import { GatewaySession } from './session.nodejs';
import { StateSeals } from '../../audit/state-seal.nodejs';
import { GatewayStateStore, type MerchantKeyRecord } from './state.nodejs';
import type { TokenCaller } from './token-envelope.nodejs';
import type { KeyUseCounter } from '../../lifecycle/usage.nodejs';

/**
 * What the parts of one GatewayClient share (transport keys, pins, key sets, secure messages):
 * the profile, its HTTPS session, its state file, the token, the audit sink, and the one queue
 * that serializes the client's public operations.
 */

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
  /** The profile's state, opened by whoever composes the client (GatewayService: GatewayStates). */
  state?: GatewayStateStore;
  /** Else the folder to open it in (gateway-<profileId>.json): a client standing alone (tests). */
  stateDir?: string;
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

// ---------------------------------------------------------------- gateway answer shapes

export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

export function answer<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = issueLines(parsed.error);
  throw new MkmError('GATEWAY_BAD_RESPONSE', `${what}: ${issues[0]}`, { issues });
}

export const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

export class GatewayClientContext {
  readonly profile: GatewayProfile;
  readonly http: HttpsJsonClient;
  readonly session: GatewaySession;
  readonly store: GatewayStateStore;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly slotId: number;
  readonly tokens: TokenCaller;
  private queue: Promise<unknown> = Promise.resolve();
  private skewMs = 0;

  constructor(readonly options: GatewayClientOptions) {
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
    if (options.state) this.store = options.state;
    // A client built apart from an app (the gateway harness): no audit trail seals its state.
    else if (options.stateDir)
      this.store = new GatewayStateStore(options.stateDir, options.profile.id, new StateSeals());
    else throw new MkmError('INTERNAL', 'A gateway client needs its state (or the folder to open it in).');
  }

  // ------------------------------------------------------------------ plumbing
  audit(entry: Omit<GatewayAuditEntry, 'profileId'>): void {
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
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The gateway's idea of now. `expires_at` is the gateway's clock; a merchant PC whose clock
   * is off by more than a set's lifetime would otherwise refuse every set (or use expired ones).
   * The offset comes from the HTTP Date header of the gateway's answers (1 s resolution).
   */
  gatewayNow(): number {
    return this.clock() + this.skewMs;
  }

  observe(reply: JsonResponse): void {
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
  async explainTokenError(error: unknown): Promise<unknown> {
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

  codeOf(error: unknown): ErrorCode {
    return error instanceof MkmError ? error.code : 'INTERNAL';
  }

  merchantKey(keyId: string): MerchantKeyRecord | undefined {
    return this.store.state.merchantKeys.find((k) => k.keyId === keyId);
  }
}

/** One part of the client: the context's members under the names the client's code always used. */
export abstract class ClientPart {
  constructor(protected readonly ctx: GatewayClientContext) {}

  protected get options(): GatewayClientOptions {
    return this.ctx.options;
  }
  protected get profile(): GatewayProfile {
    return this.ctx.profile;
  }
  protected get session(): GatewaySession {
    return this.ctx.session;
  }
  protected get store(): GatewayStateStore {
    return this.ctx.store;
  }
  protected get logger(): Logger {
    return this.ctx.logger;
  }
  protected get clock(): () => number {
    return this.ctx.clock;
  }
  protected get slotId(): number {
    return this.ctx.slotId;
  }
  protected get tokens(): TokenCaller {
    return this.ctx.tokens;
  }
  protected audit(entry: Omit<GatewayAuditEntry, 'profileId'>): void {
    this.ctx.audit(entry);
  }
  protected exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.ctx.exclusive(work);
  }
  protected gatewayNow(): number {
    return this.ctx.gatewayNow();
  }
  protected observe(reply: JsonResponse): void {
    this.ctx.observe(reply);
  }
  protected explainTokenError(error: unknown): Promise<unknown> {
    return this.ctx.explainTokenError(error);
  }
  protected codeOf(error: unknown): ErrorCode {
    return this.ctx.codeOf(error);
  }
  protected merchantKey(keyId: string): MerchantKeyRecord | undefined {
    return this.ctx.merchantKey(keyId);
  }
}
