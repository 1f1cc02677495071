import type { CsePadding } from '../../crypto/cse.nodejs';
import type { RsaPublicKey } from '../../crypto/pem.nodejs';
import {
  GatewayClientContext,
  type GatewayClientOptions,
  type TransportWrapping,
} from './client-context.nodejs';
import { GatewayCse, type CseFieldName, type CseVerdict, type CseVerifyRequest } from './cse.nodejs';
import { KeySets, type KeySetInfo } from './key-sets.nodejs';
import type { GatewayProfile } from './profiles.nodejs';
import { GatewayKeyPins, type GatewayKeyStatus, type SigningKeyStatus } from './pinning.nodejs';
import {
  SecureMessages,
  type PayloadFields,
  type SecureResult,
  type VerifyPayloadResult,
} from './secure-messages.nodejs';
import type { MerchantKeyRecord } from './state.nodejs';
import { TransportKeys, type MerchantKeyListing, type Registration } from './transport-keys.nodejs';

/**
 * The gateway client core: one gateway profile, one token slot, the contract of
 * ../shared/gateway-api.md. Every key of a key set lives only inside the token (unwrapped there
 * as session objects, used there, destroyed there); this process sees ciphertexts, MACs, KCVs
 * and ids. Calls are serialized: a key set encrypts exactly one message, so two concurrent
 * calls must never pick the same set.
 *
 * `GatewayClient` is what callers use; its parts, one job each, share one GatewayClientContext:
 * transport keys (transport-keys), the pinned gateway keys (pinning), client-side encryption
 * (cse), key sets (key-sets) and secure messages (secure-messages).
 */

export type { TokenCaller } from './token-envelope.nodejs';
export type {
  GatewayAuditAction,
  GatewayAuditEntry,
  GatewayClientOptions,
  TransportWrapping,
} from './client-context.nodejs';
export type { CseFieldName, CseVerdict, CseVerifyRequest } from './cse.nodejs';
export type { KeySetInfo } from './key-sets.nodejs';
export {
  gatewayKeyView,
  signingKeyView,
  type GatewayKeyStatus,
  type GatewayKeyView,
  type SigningKeyStatus,
  type SigningKeyView,
} from './pinning.nodejs';
export type {
  PayloadFieldName,
  PayloadFields,
  PayloadVerdict,
  SecureResult,
  VerifyPayloadResult,
} from './secure-messages.nodejs';
export type { MerchantKeyListing, Registration } from './transport-keys.nodejs';

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

export class GatewayClient {
  readonly profile: GatewayProfile;
  private readonly ctx: GatewayClientContext;
  private readonly pins: GatewayKeyPins;
  private readonly cse: GatewayCse;
  private readonly keySets: KeySets;
  private readonly transport: TransportKeys;
  private readonly messages: SecureMessages;

  constructor(options: GatewayClientOptions) {
    this.ctx = new GatewayClientContext(options);
    this.profile = this.ctx.profile;
    this.pins = new GatewayKeyPins(this.ctx);
    this.cse = new GatewayCse(this.ctx);
    this.keySets = new KeySets(this.ctx, this.pins);
    this.transport = new TransportKeys(this.ctx, this.keySets);
    this.messages = new SecureMessages(this.ctx, this.keySets);
  }

  // ------------------------------------------------------------------ merchant transport keys

  bestWrapping(): Promise<TransportWrapping> {
    return this.transport.bestWrapping();
  }

  registerTransportKey(request: Parameters<TransportKeys['registerTransportKey']>[0]): Promise<Registration> {
    return this.transport.registerTransportKey(request);
  }

  listMerchantKeys(): Promise<MerchantKeyListing[]> {
    return this.transport.listMerchantKeys();
  }

  retireMerchantKey(keyId: string): Promise<{ keyId: string; status: 'retired'; retiredAt: string }> {
    return this.transport.retireMerchantKey(keyId);
  }

  merchantKeys(): readonly MerchantKeyRecord[] {
    return this.transport.merchantKeys();
  }

  // ------------------------------------------------------------------ the gateway's keys, pinned

  gatewayKeyStatus(): GatewayKeyStatus {
    return this.pins.gatewayKeyStatus();
  }

  confirmGatewayKeyPin(fingerprint: string, by: string, role: string | null): Promise<GatewayKeyStatus> {
    return this.pins.confirmGatewayKeyPin(fingerprint, by, role);
  }

  confirmSigningKeyPin(fingerprint: string, by: string, role: string | null): Promise<SigningKeyStatus> {
    return this.pins.confirmSigningKeyPin(fingerprint, by, role);
  }

  fetchGatewayKey(): Promise<GatewayKeyStatus> {
    return this.pins.fetchGatewayKey();
  }

  importGatewayKeyPem(pem: string, padding?: CsePadding): Promise<GatewayKeyStatus> {
    return this.pins.importGatewayKeyPem(pem, padding);
  }

  confirmGatewayKeyRotation(fingerprint: string): Promise<GatewayKeyStatus> {
    return this.pins.confirmGatewayKeyRotation(fingerprint);
  }

  signingKeyStatus(): SigningKeyStatus {
    return this.pins.signingKeyStatus();
  }

  fetchSigningKey(): Promise<SigningKeyStatus> {
    return this.pins.fetchSigningKey();
  }

  importSigningKeyPem(pem: string): Promise<SigningKeyStatus> {
    return this.pins.importSigningKeyPem(pem);
  }

  confirmSigningKeyRotation(fingerprint: string): Promise<SigningKeyStatus> {
    return this.pins.confirmSigningKeyRotation(fingerprint);
  }

  // ------------------------------------------------------------------ client-side encryption

  pinnedGatewayKey(): (RsaPublicKey & { keyId: string | null; padding: CsePadding }) | null {
    return this.cse.pinnedGatewayKey();
  }

  encryptCseFields(
    values: Partial<Record<CseFieldName, string>>,
    salt?: Uint8Array,
    padding?: CsePadding,
  ): CseVerifyRequest {
    return this.cse.encryptCseFields(values, salt, padding);
  }

  verifyCse(request: CseVerifyRequest): Promise<{ fields: Partial<Record<CseFieldName, CseVerdict>> }> {
    return this.cse.verifyCse(request);
  }

  // ------------------------------------------------------------------ key sets

  currentKeySet(): KeySetInfo | null {
    return this.keySets.currentKeySet();
  }

  installKeySet(nextKeySet: unknown): Promise<KeySetInfo> {
    return this.keySets.installKeySet(nextKeySet);
  }

  requestKeySet(): Promise<KeySetInfo> {
    return this.keySets.requestKeySet();
  }

  // ------------------------------------------------------------------ secure messages

  secure<T = unknown>(operation: string, body: Record<string, unknown>): Promise<SecureResult<T>> {
    return this.messages.secure<T>(operation, body);
  }

  ping(): Promise<SecureResult<{ pong: true; serverTime: string }>> {
    return this.messages.ping();
  }

  verifyPayload(fields: PayloadFields, salt?: Uint8Array): Promise<VerifyPayloadResult> {
    return this.messages.verifyPayload(fields, salt);
  }

  // ------------------------------------------------------------------ sandbox only

  /** POST /sandbox/faults (the sandbox gateway only). */
  sandboxArmFault(next: SandboxFault): Promise<void> {
    return this.ctx.exclusive(async () => {
      // Arming is idempotent (it replaces what is armed), so a lost answer may be asked again.
      await this.ctx.session.call({
        method: 'POST',
        path: '/sandbox/faults',
        json: { next },
        idempotent: true,
      });
      this.ctx.audit({ action: 'sandbox.fault', result: 'ok', reason: next });
    });
  }

  /** POST /sandbox/rotate_signing_key (the sandbox gateway only). */
  sandboxRotateSigningKey(): Promise<void> {
    return this.ctx.exclusive(async () => {
      await this.ctx.session.call({ method: 'POST', path: '/sandbox/rotate_signing_key', json: {} });
      this.ctx.audit({ action: 'sandbox.rotate-signing-key', result: 'ok' });
    });
  }

  /** POST /sandbox/rotate_public_key (the sandbox gateway only). */
  sandboxRotatePublicKey(): Promise<void> {
    return this.ctx.exclusive(async () => {
      await this.ctx.session.call({ method: 'POST', path: '/sandbox/rotate_public_key', json: {} });
      this.ctx.audit({ action: 'sandbox.rotate-public-key', result: 'ok' });
    });
  }

  /** Destroys the current set's objects in the token (the set simply expires at the gateway). */
  close(): Promise<void> {
    return this.ctx.exclusive(async () => {
      await this.keySets.discardSet('closed').catch(() => undefined);
      this.ctx.session.invalidate();
    });
  }
}
