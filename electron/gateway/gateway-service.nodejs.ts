import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayProfileView, GatewayStatus } from '../../shared/contract.std';
import { dataPaths } from '../core/paths.nodejs';
import type {
  GatewayKeySetView,
  GatewayKeyState,
  GatewayMerchantKeyView,
  GatewayPingResult,
  GatewayRegistration,
  GatewaySigningKeyState,
  GatewaySyncReport,
} from '../../shared/contract/gateway.std';
import { MkmError, toErrorShape } from '../../shared/errors.std';
import type { AuditAppend } from '../audit/audit-log.nodejs';
import { writeFileAtomic } from '../core/atomic-file.nodejs';
import type { Logger } from '../core/logger.nodejs';
import type { EventBus } from '../core/registry.nodejs';
import { requireCapability } from '../hsm/capability-guard.nodejs';
import type { TokensService } from '../hsm/tokens.nodejs';
import type {
  GatewayRegistrationRequest,
  GatewayRetirementRequest,
  KeyLifecycleService,
} from '../lifecycle/lifecycle.nodejs';
import type { KeyUseCounter } from '../lifecycle/usage.nodejs';
import {
  GatewayClient,
  gatewayKeyView,
  signingKeyView,
  type GatewayAuditEntry,
  type GatewayClientOptions,
  type GatewayKeyStatus,
  type KeySetInfo,
  type SigningKeyStatus,
} from './client/gateway-client.nodejs';
import {
  envSecretProvider,
  SessionSecrets,
  type GatewayProfile,
  type SecretProvider,
} from './client/profiles.nodejs';
import type { GatewayStates } from './client/state.nodejs';
import { type GatewayClientState } from './client/state.nodejs';
import { GatewayProfilesStore, profileIdFromName } from './profiles-store.nodejs';

/**
 * The gateway in main: the profiles store, and one GatewayClient per profile, made on first use
 * over the app's token host and the logged-in slot. Client audit events become audit entries
 * (`gateway.<action>`). What it reports holds ids, fingerprints and expiries, never key material.
 */
export interface GatewayServiceOptions {
  /** The app's data folder; the gateway keeps profiles.json, state files and last-sync.json in `gateway/`. */
  dataDir: string;
  tokens: TokensService;
  record: (entry: AuditAppend) => void;
  logger: Logger;
  events: EventBus;
  /** Behind the passwords typed this session: env/prompt (CLI, browser mode) or safeStorage. */
  secrets?: SecretProvider;
  http?: GatewayClientOptions['http'];
  /** Opens each profile's client state, with the app's seals: the composition root's one instance. */
  states: GatewayStates;
  /**
   * The key lifecycle, to link a registered token key to its logical key (so a rotation
   * registers the next version with the same profiles). Null or throwing: no link is made.
   */
  lifecycle?: () => Pick<KeyLifecycleService, 'list' | 'setGatewayStatus'>;
  /** The app's usage service: each client counts its key-set unwraps and CSE encryptions there. */
  usage?: KeyUseCounter | null;
}

export interface AddProfileRequest {
  id?: string | undefined;
  name: string;
  baseUrl: string;
  username: string;
  tlsPinSha256?: string | undefined;
  cse?: 'RSAES-PKCS1-V1_5' | 'RSAES-OAEP-SHA256' | undefined;
  keyRolling?: boolean | undefined;
  /** The embedded local sandbox's profile (shown as DEMO). */
  demo?: boolean | undefined;
  /** The environment variable that holds this profile's password (no other serves it). */
  passwordEnv?: string | undefined;
}

interface Held {
  client: GatewayClient;
  slotId: number;
  profile: GatewayProfile;
}

export function profileView(p: GatewayProfile, passwordKnown = false): GatewayProfileView {
  return {
    id: p.id,
    name: p.name,
    baseUrl: p.baseUrl,
    username: p.username,
    tlsPinSha256: p.tlsPinSha256 ?? null,
    cse: p.scheme.cse?.padding ?? null,
    keyRolling: p.scheme.keyRolling ?? false,
    demo: p.demo ?? false,
    passwordKnown,
    passwordEnv: p.passwordEnv ?? null,
  };
}

const keySetView = (set: KeySetInfo): GatewayKeySetView => ({
  setId: set.setId,
  wrappingKeyId: set.wrappingKeyId,
  expiresAt: set.expiresAt,
});

const nextSetView = (next: KeySetInfo | { refused: string }) =>
  'refused' in next ? { refused: next.refused } : keySetView(next);

function keyState(s: GatewayKeyStatus): GatewayKeyState {
  return {
    status: s.status,
    pinned: s.pinned,
    pending: s.pending,
    ...(s.previous ? { previous: s.previous } : {}),
  };
}

function signingState(s: SigningKeyStatus): GatewaySigningKeyState {
  return { status: s.status, pinned: s.pinned, pending: s.pending, previous: s.previous };
}

export class GatewayService {
  readonly profiles: GatewayProfilesStore;
  private readonly clients = new Map<string, Held>();
  readonly secrets: SessionSecrets;
  private readonly syncFile: string;
  private readonly dir: string;
  private readonly states: GatewayStates;

  constructor(private readonly options: GatewayServiceOptions) {
    this.dir = dataPaths(options.dataDir).gateway;
    this.states = options.states;
    this.profiles = new GatewayProfilesStore(this.dir);
    this.secrets = new SessionSecrets(options.secrets ?? envSecretProvider());
    this.syncFile = join(this.dir, 'last-sync.json');
  }

  /**
   * A profile's client state (pins, key set) as last written, read fresh and never written, for
   * the console, exchange, support and diagnosis; opened, like each client's, through `states`.
   */
  readState(profileId: string): Readonly<GatewayClientState> {
    return this.states.open(profileId).state;
  }

  /** The HTTPS options every gateway call of this app uses (the ceremony refusal among them). */
  get httpOptions(): NonNullable<GatewayServiceOptions['http']> {
    return this.options.http ?? {};
  }

  /** The file that state lives in (the token's seal vouches for it, see checkPinnedKey). */
  stateFile(profileId: string): string {
    return this.states.file(profileId);
  }

  /**
   * Resolves while the token's seal vouches for the profile's pinned key (STATE_TAMPERED, or
   * STATE_UNCHECKED with no audit key, else): before anything is encrypted to it or confirmed.
   */
  checkPinnedKey(profileId: string): Promise<void> {
    return this.states.seals.check(this.stateFile(profileId), 'the pinned gateway key');
  }

  // ------------------------------------------------------------------ profiles

  /**
   * A new profile starts with no password: whatever is kept under its id (typed this session,
   * or encrypted by an earlier profile of that id whose removal did not finish) is forgotten
   * first, and the add is refused when that fails. It is served by the environment only through
   * the variable it names (`passwordEnv`).
   */
  async addProfile(request: AddProfileRequest): Promise<GatewayProfileView> {
    const input = this.profileInput(request);
    if (this.profiles.list().some((p) => p.id === input.id)) {
      throw new MkmError('CONFLICT', `A gateway profile "${input.id}" already exists.`, {
        profileId: input.id,
      });
    }
    await this.forgetPassword(input.id);
    const profile = this.profiles.add(input);
    this.options.logger.info('gateway profile added', {
      profileId: profile.id,
      pinned: !!profile.tlsPinSha256,
    });
    this.announce(profile.id);
    return this.view(profile);
  }

  /**
   * Adds the profile, or replaces one with the same id keeping its pinned state (the embedded
   * sandbox comes back on another port each start, with the same TLS key and gateway keys).
   */
  async putProfile(request: AddProfileRequest & { id: string }): Promise<GatewayProfileView> {
    const input = this.profileInput(request);
    const earlier = this.profiles.list().find((p) => p.id === input.id);
    // Another user or origin (host and port) is another gateway account: its password is not this one's.
    if (
      earlier &&
      (earlier.username !== input.username || originOf(earlier.baseUrl) !== originOf(input.baseUrl))
    ) {
      await this.forgetPassword(input.id);
    }
    const profile = this.profiles.put(input);
    this.announce(profile.id);
    return this.view(profile);
  }

  private async forgetPassword(profileId: string): Promise<void> {
    try {
      await this.secrets.forget(profileId);
    } catch (error) {
      throw new MkmError(
        'IO_ERROR',
        'A password kept under this profile id could not be removed; the profile was not added.',
        { profileId, reason: toErrorShape(error).code },
      );
    }
  }

  private profileInput(request: AddProfileRequest) {
    return {
      id: request.id ?? profileIdFromName(request.name),
      name: request.name,
      baseUrl: request.baseUrl,
      username: request.username,
      ...(request.tlsPinSha256 ? { tlsPinSha256: request.tlsPinSha256 } : {}),
      scheme: {
        ...(request.cse ? { cse: { padding: request.cse } } : {}),
        ...(request.keyRolling ? { keyRolling: true } : {}),
      },
      ...(request.demo ? { demo: true } : {}),
      ...(request.passwordEnv ? { passwordEnv: request.passwordEnv } : {}),
    };
  }

  /** A profile, its pinned keys, registrations, key set or last sync changed: views read it again. */
  private announce(profileId: string): void {
    this.options.events.emit('state.changed', { what: 'sync', profileId });
  }

  private view(profile: GatewayProfile): GatewayProfileView {
    let known = false;
    try {
      known = this.secrets.has(profile.id, profile.passwordEnv);
    } catch {
      // A view never fails over the password; the next call that needs it says why.
    }
    return profileView(profile, known);
  }

  listProfiles(): GatewayProfileView[] {
    return this.profiles.list().map((p) => this.view(p));
  }

  /**
   * The password the admin typed for a profile: kept in this process's memory for the session,
   * and with `remember` also encrypted by the OS (Electron safeStorage) for later sessions.
   * It is never returned, logged or audited. A live sign-in is dropped so the next call uses it.
   */
  async setPassword(request: {
    profileId: string;
    password: string;
    remember?: boolean | undefined;
  }): Promise<{ kept: 'session' | 'encrypted' }> {
    this.profiles.get(request.profileId);
    const kept = await this.secrets.set(request.profileId, request.password, request.remember ?? false);
    await this.drop(request.profileId);
    this.options.logger.info('gateway password set', { profileId: request.profileId, kept });
    return { kept };
  }

  /**
   * The profile's client state (pinned gateway key, registrations) is moved aside, not deleted
   * and not left in place: a new profile with the same id starts with nothing pinned.
   */
  async removeProfile(profileId: string): Promise<{ removed: boolean }> {
    await this.drop(profileId);
    const removed = this.profiles.remove(profileId);
    if (removed) {
      this.announce(profileId);
      await this.secrets
        .forget(profileId)
        .catch((error: unknown) =>
          this.options.logger.warn('a kept gateway password was not removed', { profileId, error }),
        );
    }
    const stateFile = this.stateFile(profileId);
    if (removed && existsSync(stateFile)) {
      try {
        renameSync(stateFile, `${stateFile}.removed-${Date.now()}`);
      } catch (error) {
        throw new MkmError(
          'IO_ERROR',
          'The profile was removed but its gateway state file was not moved aside.',
          {
            file: stateFile,
            reason: (error as { code?: string }).code ?? 'unknown',
          },
        );
      }
    }
    return { removed };
  }

  // ------------------------------------------------------------------ clients

  private async drop(profileId: string): Promise<void> {
    const held = this.clients.get(profileId);
    if (!held) return;
    this.clients.delete(profileId);
    await held.client.close().catch(() => undefined);
  }

  /** The slot a client works on: the one asked for, else the (first) logged-in one. */
  private async slotFor(requested: number | undefined): Promise<number> {
    if (requested !== undefined) return requested;
    const loggedIn = (await this.options.tokens.slots()).filter((s) => s.token && s.session.loggedIn);
    if (loggedIn.length === 0) {
      throw new MkmError('NOT_LOGGED_IN', 'Log in to the token that holds the gateway keys.');
    }
    return loggedIn[0]!.slotId;
  }

  /**
   * `needsLogin: false` is for work that touches no token key (the gateway's public key, the
   * merchant key list): it reuses any client, or makes one on no slot at all, so it works with
   * no token library configured. Work that needs the token gets a client on the logged-in slot.
   */
  private async client(
    profileId: string,
    opts: { slotId?: number; needsLogin?: boolean } = {},
  ): Promise<GatewayClient> {
    const profile = this.profiles.get(profileId);
    const held = this.clients.get(profileId);
    const tokenFree = opts.slotId === undefined && opts.needsLogin === false;
    if (held && sameProfile(held.profile, profile) && tokenFree) return held.client;
    const slotId = tokenFree ? NO_SLOT : await this.slotFor(opts.slotId);
    if (held && held.slotId === slotId && sameProfile(held.profile, profile)) return held.client;
    await this.drop(profileId);
    const client = new GatewayClient({
      profile,
      tokens: this.options.tokens,
      slotId,
      secrets: this.secrets,
      state: this.states.open(profileId),
      logger: this.options.logger,
      onAudit: (entry) => this.onAudit(entry),
      probe: () => this.options.tokens.capabilities(slotId),
      usage: this.options.usage ?? null,
      ...(this.options.http ? { http: this.options.http } : {}),
    });
    this.clients.set(profileId, { client, slotId, profile });
    return client;
  }

  /**
   * The profile's client for the payload console (its pinned key, current set, verify calls).
   * The same client and slot rule as every other call, so the console never makes a second set.
   */
  consoleClient(profileId: string, opts: { needsLogin: boolean }): Promise<GatewayClient> {
    return this.client(profileId, opts);
  }

  private onAudit(entry: GatewayAuditEntry): void {
    const { action, result, profileId, keyId, fingerprint, code, ...rest } = entry;
    // An audit key reference names a token key (CKA_ID); the gateway's own key goes in details.
    const gatewaysOwn = action.startsWith('gateway-key.') || action.startsWith('signing-key.');
    const tokenKey = keyId !== undefined && !gatewaysOwn && TOKEN_KEY_ID.test(keyId);
    this.options.record({
      action: `gateway.${action}`,
      // A refusal without a code is the pinned key holding until an admin confirms a rotation.
      result:
        result === 'ok' ? 'ok' : (code ?? (result === 'refused' ? 'CONFIRMATION_REQUIRED' : 'INTERNAL')),
      ...(tokenKey ? { key: { id: keyId, ...(fingerprint ? { fingerprint } : {}) } } : {}),
      details: {
        profileId,
        ...(!tokenKey && keyId !== undefined ? { gatewayKeyId: keyId } : {}),
        ...(!tokenKey && fingerprint ? { fingerprint } : {}),
        ...rest,
      },
    });
    this.announce(profileId);
    if (action === 'gateway-key.rotation-detected' && fingerprint) {
      this.options.events.emit('gateway.rotationPending', { profileId, fingerprint, key: 'encryption' });
    }
    if (action === 'signing-key.rotation-detected' && fingerprint) {
      this.options.events.emit('gateway.rotationPending', { profileId, fingerprint, key: 'signing' });
    }
  }

  // ------------------------------------------------------------------ operations

  async status(profileId: string): Promise<GatewayStatus> {
    const profile = this.profiles.get(profileId);
    const held = this.clients.get(profileId);
    // Read from the state file: a status needs neither the token nor the gateway.
    const state = this.readState(profileId);
    const view = gatewayKeyView;
    const { pinned, pending } = state.gatewayKey;
    const signing = state.signingKey;
    const signingView = signingKeyView;
    const live = held?.client.currentKeySet() ?? null;
    const recorded = state.keySet;
    return {
      profile: this.view(profile),
      gatewayKey: {
        status: pinned === null ? 'none' : pending === null ? 'pinned' : 'rotation-pending',
        pinned: view(pinned),
        pending: view(pending),
      },
      rotationPending: pending !== null,
      signingKey: {
        status: signing.pinned === null ? 'none' : signing.pending === null ? 'pinned' : 'rotation-pending',
        pinned: signingView(signing.pinned),
        pending: signingView(signing.pending),
        previous: signing.previous.map((p) => ({
          keyId: p.keyId,
          spkiSha256: p.spkiSha256,
          acceptedUntil: p.acceptedUntil,
        })),
      },
      signingRotationPending: signing.pending !== null,
      merchantKeys: state.merchantKeys.map((k) => ({
        keyId: k.keyId,
        label: k.label,
        spkiSha256: k.spkiSha256,
        wrapping: k.wrapping,
        status: k.status,
        registeredAt: k.registeredAt,
        retiredAt: k.retiredAt,
      })),
      keySet: live
        ? { ...keySetView(live), inToken: true }
        : recorded
          ? {
              setId: recorded.setId,
              wrappingKeyId: recorded.wrappingKeyId,
              expiresAt: recorded.expiresAt,
              inToken: false,
            }
          : null,
      lastSync: this.readSync()[profileId] ?? null,
    };
  }

  async registerTransportKey(request: {
    profileId: string;
    slotId: number;
    keyId: string;
  }): Promise<GatewayRegistration> {
    const client = await this.client(request.profileId, { slotId: request.slotId });
    const objects = await this.options.tokens.call('listObjects', { slotId: request.slotId });
    const keyId = request.keyId.toLowerCase();
    const key = objects.find((o) => o.id === keyId && o.class === 'private');
    if (!key) {
      throw new MkmError('KEY_NOT_FOUND', `No private key with id ${keyId} on the token.`, { keyId });
    }
    if (key.keyType !== 'rsa') {
      throw new MkmError('KEY_TYPE_INCONSISTENT', 'A gateway transport key must be an RSA key pair.', {
        keyId,
      });
    }
    const link = await this.lifecycleVersionOf(request.slotId, keyId);
    const r = await client.registerTransportKey({
      keyId,
      label: key.label,
      ...(link ? { link: { logicalKeyId: link.logicalKeyId, versionId: link.id } } : {}),
    });
    if (link && link.gateway.status !== 'registered') this.markRegistered(link.id, request.profileId, keyId);
    return {
      profileId: request.profileId,
      keyId: r.keyId,
      spkiSha256: r.spkiSha256,
      wrapping: r.wrapping,
      created: r.created,
      registeredAt: r.registeredAt,
      keySet: nextSetView(r.keySet),
    };
  }

  // ------------------------------------------------------------------ lifecycle hooks

  /** The lifecycle version a token key is (gateway-transport keys only), or null. */
  private async lifecycleVersionOf(slotId: number, ckaId: string) {
    if (!this.options.lifecycle) return null;
    try {
      const serial = (await this.options.tokens.slots()).find((s) => s.slotId === slotId)?.token?.serial;
      const inventory = this.options.lifecycle().list();
      return (
        inventory.versions.find(
          (v) => v.ckaId === ckaId && v.tokenSerial === serial && v.purpose === 'gateway-transport',
        ) ?? null
      );
    } catch (error) {
      // The inventory may be held by another process (KEYS_BUSY): the key is registered unlinked.
      this.options.logger.warn('the registered key was not linked to the key lifecycle', {
        keyId: ckaId,
        code: toErrorShape(error).code,
      });
      return null;
    }
  }

  /** A version registered by hand is registered as far as the lifecycle is concerned. */
  private markRegistered(versionId: string, profileId: string, keyId: string): void {
    try {
      this.options.lifecycle?.().setGatewayStatus(versionId, {
        status: 'registered',
        reference: `${profileId}:${keyId}`,
        error: null,
      });
    } catch (error) {
      this.options.logger.warn('the lifecycle did not record the registration', {
        versionId,
        code: toErrorShape(error).code,
      });
    }
  }

  /**
   * The profiles that carry a logical key: those whose registrations name it, or name the
   * token key of one of its versions (registered before the link was recorded).
   */
  private profilesCarrying(logicalKeyId: string): { profileId: string; keyIds: Set<string> }[] {
    let ckaIds = new Set<string>();
    try {
      const inventory = this.options.lifecycle?.().list();
      ckaIds = new Set(
        (inventory?.versions ?? [])
          .filter((v) => v.logicalKeyId === logicalKeyId && v.ckaId)
          .map((v) => v.ckaId!),
      );
    } catch {
      // Links recorded with the registrations still count.
    }
    const carrying: { profileId: string; keyIds: Set<string> }[] = [];
    for (const profile of this.profiles.list()) {
      const records = this.readState(profile.id).merchantKeys;
      const ours = records.filter((k) => k.logicalKeyId === logicalKeyId || ckaIds.has(k.keyId));
      if (ours.length) carrying.push({ profileId: profile.id, keyIds: new Set(ours.map((k) => k.keyId)) });
    }
    return carrying;
  }

  private async slotOfSerial(serial: string): Promise<number> {
    const slot = (await this.options.tokens.slots()).find(
      (s) => s.token?.serial === serial && s.session.loggedIn,
    );
    if (!slot) {
      throw new MkmError('NOT_LOGGED_IN', 'Log in to the token that holds the gateway transport key.', {
        tokenSerial: serial,
      });
    }
    return slot.slotId;
  }

  /**
   * The lifecycle's registration hook: a new version of a gateway-transport key is registered
   * with every profile that carries the logical key, with the strongest wrapping the token's
   * capability probe allows (GatewayClient.bestWrapping). Idempotent per version: the gateway
   * answers the same key_id with the same key again with 200. A profile that fails fails the
   * hook, and the lifecycle retries the step (resume). No profile carries it yet (a new key):
   * nothing to do; registering it by hand later links it.
   */
  async registerLifecycleVersion(request: GatewayRegistrationRequest): Promise<{ reference: string | null }> {
    const { logicalKey, version } = request;
    const carrying = this.profilesCarrying(logicalKey.id);
    if (carrying.length === 0 || version.ckaId === null || version.tokenSerial === null) {
      this.options.logger.info('no gateway profile carries this key yet', { logicalKeyId: logicalKey.id });
      return { reference: null };
    }
    const slotId = await this.slotOfSerial(version.tokenSerial);
    const references: string[] = [];
    for (const { profileId } of carrying) {
      const client = await this.client(profileId, { slotId });
      const r = await client.registerTransportKey({
        keyId: version.ckaId,
        label: version.label,
        link: { logicalKeyId: logicalKey.id, versionId: version.id },
      });
      references.push(`${profileId}:${r.keyId}`);
    }
    return { reference: references.join(' ').slice(0, 256) };
  }

  /**
   * The lifecycle's retirement hook: the version's token key is retired at every profile that
   * registered it (POST .../merchant_keys/{key_id}/retire), so no new set is wrapped under it.
   * Sets already issued under it stay usable at the gateway. Idempotent: a key already retired
   * here is skipped, and the gateway answers a second retirement like the first. Every profile
   * is tried; the first failure is thrown so the lifecycle keeps the retirement pending.
   */
  async retireLifecycleVersion(request: GatewayRetirementRequest): Promise<void> {
    const { logicalKey, version } = request;
    if (version.ckaId === null) return;
    let failure: unknown = null;
    for (const { profileId } of this.profilesCarrying(logicalKey.id)) {
      const state = this.readState(profileId);
      const record = state.merchantKeys.find((k) => k.keyId === version.ckaId);
      if (!record || record.status === 'retired') continue;
      try {
        const client = await this.client(profileId, { needsLogin: false });
        await client.retireMerchantKey(version.ckaId);
        this.options.logger.info('transport key retired at the gateway', {
          profileId,
          keyId: version.ckaId,
          reason: request.reason,
        });
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure) throw failure;
  }

  async fetchKey(profileId: string): Promise<GatewayKeyState> {
    return keyState(await (await this.client(profileId, { needsLogin: false })).fetchGatewayKey());
  }

  async importKeyPem(profileId: string, pem: string): Promise<GatewayKeyState> {
    return keyState(await (await this.client(profileId, { needsLogin: false })).importGatewayKeyPem(pem));
  }

  async confirmKeyRotation(profileId: string, fingerprint: string): Promise<GatewayKeyState> {
    const client = await this.client(profileId, { needsLogin: false });
    return keyState(await client.confirmGatewayKeyRotation(fingerprint));
  }

  /**
   * The first pin's out-of-band check (issue 15 point 5): a person compared the pinned key's
   * fingerprint with the one the gateway operator read out. Only a pin the token's seal still
   * vouches for is confirmed (STATE_UNCHECKED / STATE_TAMPERED otherwise); the confirmation is
   * written into the same sealed state file.
   */
  async confirmPin(request: {
    profileId: string;
    key: 'encryption' | 'signing';
    fingerprint: string;
    by: string;
    role?: string | undefined;
  }): Promise<GatewayStatus> {
    this.profiles.get(request.profileId);
    await this.checkPinnedKey(request.profileId);
    const client = await this.client(request.profileId, { needsLogin: false });
    const role = request.role ?? null;
    if (request.key === 'signing') await client.confirmSigningKeyPin(request.fingerprint, request.by, role);
    else await client.confirmGatewayKeyPin(request.fingerprint, request.by, role);
    return this.status(request.profileId);
  }

  async fetchSigningKey(profileId: string): Promise<GatewaySigningKeyState> {
    return signingState(await (await this.client(profileId, { needsLogin: false })).fetchSigningKey());
  }

  async importSigningKeyPem(profileId: string, pem: string): Promise<GatewaySigningKeyState> {
    return signingState(await (await this.client(profileId, { needsLogin: false })).importSigningKeyPem(pem));
  }

  async confirmSigningKeyRotation(profileId: string, fingerprint: string): Promise<GatewaySigningKeyState> {
    const client = await this.client(profileId, { needsLogin: false });
    return signingState(await client.confirmSigningKeyRotation(fingerprint));
  }

  async ping(profileId: string): Promise<GatewayPingResult> {
    await requireCapability(this.options.tokens, await this.slotFor(undefined), 'console-message');
    const result = await (await this.client(profileId, { needsLogin: true })).ping();
    return {
      profileId,
      setId: result.setId,
      serverTime: result.response.serverTime,
      nextKeySet: nextSetView(result.nextKeySet),
    };
  }

  /**
   * Fetch and pin the gateway's key (CSE profiles), list the merchant keys, and make sure a key
   * set is installed (key-rolling profiles with an active transport key). The outcome is kept
   * as the profile's last sync, failures included.
   */
  async sync(profileId: string): Promise<GatewaySyncReport> {
    const profile = this.profiles.get(profileId);
    const report: GatewaySyncReport = {
      at: new Date().toISOString(),
      ok: false,
      step: null,
      error: null,
      gatewayKey: null,
      signingKey: null,
      merchantKeys: null,
      keySet: null,
    };
    try {
      report.step = 'token';
      const keyRolling = profile.scheme.keyRolling ?? false;
      const client = await this.client(profileId, { needsLogin: keyRolling });
      if (profile.scheme.cse) {
        report.step = 'gateway-key';
        report.gatewayKey = keyState(await client.fetchGatewayKey());
      }
      if (keyRolling) {
        // Contract 1.1: sets are checked against this key; a rotation shows here before it bites.
        report.step = 'signing-key';
        report.signingKey = signingState(await client.fetchSigningKey());
      }
      report.step = 'merchant-keys';
      const known = new Map(client.merchantKeys().map((k) => [k.keyId, k]));
      report.merchantKeys = (await client.listMerchantKeys()).map((k): GatewayMerchantKeyView => ({
        keyId: k.keyId,
        label: known.get(k.keyId)?.label ?? null,
        spkiSha256: k.spkiSha256,
        wrapping: k.wrapping ?? known.get(k.keyId)?.wrapping ?? null,
        status: k.status,
        registeredAt: k.registeredAt,
        retiredAt: k.retiredAt,
      }));
      const ours = client.merchantKeys().filter((k) => k.status === 'active');
      if (keyRolling && ours.length > 0) {
        report.step = 'key-set';
        const current = client.currentKeySet();
        // The client's own margin is 10 s; a set about to expire is not worth keeping.
        const fresh = current && Date.parse(current.expiresAt) - 60_000 > Date.now() ? current : null;
        report.keySet = keySetView(fresh ?? (await client.requestKeySet()));
      }
      report.ok = true;
      report.step = null;
    } catch (error) {
      report.error = toErrorShape(error);
      this.keepSync(profileId, report);
      throw error;
    }
    this.keepSync(profileId, report);
    return report;
  }

  private readSync(): Record<string, GatewaySyncReport> {
    try {
      return existsSync(this.syncFile)
        ? (JSON.parse(readFileSync(this.syncFile, 'utf8')) as Record<string, GatewaySyncReport>)
        : {};
    } catch {
      // A lost sync summary costs nothing but a line on the status screen.
      this.options.logger.warn('ignored an unreadable gateway sync summary', { file: this.syncFile });
      return {};
    }
  }

  private keepSync(profileId: string, report: GatewaySyncReport): void {
    try {
      const all = this.readSync();
      all[profileId] = report;
      writeFileAtomic(this.syncFile, JSON.stringify(all, null, 2) + '\n');
    } catch (error) {
      this.options.logger.warn('could not keep the gateway sync summary', { error });
    }
    this.announce(profileId);
  }

  async close(): Promise<void> {
    const held = [...this.clients.keys()];
    await Promise.allSettled(held.map((id) => this.drop(id)));
  }
}

/** A client that never calls the token (see client()). */
const NO_SLOT = -1;
const TOKEN_KEY_ID = /^(?:[0-9a-f]{2}){1,128}$/;

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function sameProfile(a: GatewayProfile, b: GatewayProfile): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
