import { createHash, randomUUID } from 'node:crypto';
import { dataPaths } from '../../core/paths.nodejs';
import {
  EXCHANGE_DEFAULT_LIFETIME_DAYS,
  EXCHANGE_FORMAT,
  EXCHANGE_VERSION,
  type ExchangeExport,
  type ExchangeImport,
  type ExchangeItem,
  type ExchangePackage,
  type ExchangePolicy,
  type ExchangePurpose,
  type ExchangeReceiptView,
  type ExchangeSignatureAlg,
  type ExchangeVerification,
  type TrustedSigner,
  type UnsignedExchangePackage,
} from '../../../shared/contract/exchange.std';
import { isErrorCode, MkmError, toErrorShape } from '../../../shared/errors.std';
import type { ObjectInfo } from '../../../shared/tokens.std';
import { currentOsUser, type AuditAppend } from '../../audit/audit-log.nodejs';
import type { Logger } from '../../core/logger.nodejs';
import { requireCapability } from '../../hsm/capability-guard.nodejs';
import type { TokensService } from '../../hsm/tokens.nodejs';
import type { HttpsJsonClientOptions } from '../client/https.nodejs';
import type { SecretProvider } from '../client/profiles.nodejs';
import { countedUse, type KeyUseCounter } from '../../lifecycle/usage.nodejs';
import type { GatewayService } from '../gateway-service.nodejs';
import {
  checkContents,
  checkKinds,
  colonHex,
  checkSignature,
  packageText,
  parsePackage,
  signedBytes,
  summarize,
} from './package.nodejs';
import { RegistrationUploader } from './registration-upload.nodejs';
import type { StateSeals } from '../../audit/state-seal.nodejs';
import { ExchangePolicyStore, ReceiptsStore, SeenPackagesStore, TrustedSignersStore } from './stores.nodejs';

/**
 * Exchange packages for air-gapped key ceremonies: made and signed on the token here, verified
 * with node:crypto against the signer's key, and acted on only after every check passed (see
 * package.nodejs.ts for the checks and README.md for the flows).
 */
export interface ExchangeServiceOptions {
  /** The app's data folder; the service keeps its files in DataPaths.exchange (gateway state: gateway.readState). */
  dataDir: string;
  tokens: TokensService;
  gateway: GatewayService;
  /** The app's sealed state files: the trusted signers list is one. */
  seals: StateSeals;
  record: (entry: AuditAppend) => void;
  logger: Logger;
  appVersion: string;
  secrets?: SecretProvider;
  http?: Omit<HttpsJsonClientOptions, 'baseUrl' | 'tlsPinSha256' | 'logger'>;
  clock?: () => Date;
  /** Where the package signatures are counted (the app's usage service). */
  usage?: KeyUseCounter | null;
}

export interface ExportRequest {
  kind: 'registration' | 'gateway-key' | 'announcement';
  slotId?: number | undefined;
  signingKeyId: string;
  keyIds?: string[] | undefined;
  profileId?: string | undefined;
  expiresInDays?: number | undefined;
  algorithm?: 'auto' | 'pss' | 'pkcs1' | undefined;
}

export interface VerifyRequest {
  package: string;
  signer?: string | undefined;
  expect?: ExchangePurpose | undefined;
  /** Refuse PKCS#1 v1.5 for this call, whatever the stored policy says. */
  requirePss?: boolean | undefined;
}

const PURPOSE_OF: Record<ExportRequest['kind'], ExchangePurpose> = {
  registration: 'registration-request',
  'gateway-key': 'gateway-key',
  announcement: 'key-announcement',
};

const WRAPPING_OF = { RSA_OAEP_SHA256: 'RSAES-OAEP-SHA256', RSA_OAEP_SHA1: 'RSAES-OAEP-SHA1' } as const;

/** What a key pair is for, read back from its usages (the templates give each purpose its own set). */
function purposeOf(usages: readonly string[]): string | null {
  const u = [...usages].sort().join(',');
  if (u === 'unwrap') return 'gateway-transport';
  if (u === 'sign') return 'signing';
  if (u === 'decrypt') return 'encryption';
  return null;
}

export class ExchangeService {
  readonly signers: TrustedSignersStore;
  readonly receipts: ReceiptsStore;
  readonly seen: SeenPackagesStore;
  readonly policyStore: ExchangePolicyStore;
  private readonly secrets: SecretProvider;
  private readonly clock: () => Date;

  constructor(private readonly options: ExchangeServiceOptions) {
    const dir = dataPaths(options.dataDir).exchange;
    this.signers = new TrustedSignersStore(dir, options.seals);
    this.receipts = new ReceiptsStore(dir);
    this.seen = new SeenPackagesStore(dir);
    this.policyStore = new ExchangePolicyStore(dir);
    // The gateway's own provider: a password the admin typed in the app (gateway.setPassword)
    // serves uploads too, before the environment or the OS keychain.
    this.secrets = options.secrets ?? options.gateway.secrets;
    this.clock = options.clock ?? (() => new Date());
  }

  // ------------------------------------------------------------------ export

  private async slotFor(
    requested: number | undefined,
  ): Promise<{ slotId: number; serial: string; label: string }> {
    const slots = await this.options.tokens.slots();
    const loggedIn = slots.filter(
      (s) => s.token && s.session.loggedIn && (requested === undefined || s.slotId === requested),
    );
    const slot = loggedIn[0];
    if (!slot?.token) {
      throw new MkmError('NOT_LOGGED_IN', 'Log in to the token that holds the signing key.');
    }
    return { slotId: slot.slotId, serial: slot.token.serial.trim(), label: slot.token.label.trim() };
  }

  async export(request: ExportRequest): Promise<ExchangeExport> {
    const { tokens } = this.options;
    const slot = await this.slotFor(request.slotId);
    const { slotId } = slot;
    await requireCapability(tokens, slotId, 'exchange-sign');
    const objects = await tokens.call('listObjects', { slotId });
    const signing = objects.find((o) => o.id === request.signingKeyId && o.class === 'private');
    if (!signing) {
      throw new MkmError('KEY_NOT_FOUND', `No private key with id ${request.signingKeyId} on the token.`, {
        keyId: request.signingKeyId,
      });
    }
    // A package signer signs and does nothing else: a transport or encryption key that also
    // signed would make one compromise two.
    if (signing.keyType !== 'rsa' || purposeOf(signing.usages) !== 'signing') {
      throw new MkmError(
        'KEY_NOT_PERMITTED',
        `"${signing.label}" is not a signing key. Make one with: mkm keys generate --type rsa-3072 --purpose signing --label LABEL`,
        { keyId: signing.id },
      );
    }
    // Under a PSS-only policy this installation makes only what it would itself accept.
    const requirePss = this.policyStore.get().requirePss;
    const algorithm = request.algorithm ?? 'auto';
    if (requirePss && algorithm === 'pkcs1') {
      throw new MkmError(
        'EXCHANGE_ALGORITHM_REFUSED',
        'This installation requires RSASSA-PSS signatures on packages; sign with --alg pss (or auto).',
        { reason: 'algorithm-not-allowed', alg: 'RSASSA-PKCS1-v1_5-SHA256', required: 'RSASSA-PSS-SHA256' },
      );
    }
    const signerPub = await tokens.call('exportPublicKey', { slotId, id: signing.id, format: 'pem' });
    const purpose = PURPOSE_OF[request.kind];
    const items = await this.itemsFor(request, slotId, objects);
    const created = this.clock();
    const unsigned: UnsignedExchangePackage = {
      format: EXCHANGE_FORMAT,
      version: EXCHANGE_VERSION,
      id: randomUUID(),
      purpose,
      created: created.toISOString(),
      expires: new Date(
        created.getTime() + (request.expiresInDays ?? EXCHANGE_DEFAULT_LIFETIME_DAYS) * 86_400_000,
      ).toISOString(),
      producer: {
        app: 'mkm',
        appVersion: this.options.appVersion,
        osUser: currentOsUser().slice(0, 256),
        token: { serial: slot.serial, label: slot.label },
      },
      items,
      signer: {
        keyId: signing.id,
        label: signing.label.slice(0, 256),
        spkiPem: signerPub.pem!,
        spkiSha256: signerPub.spkiSha256,
      },
    };
    const signature = await this.sign(
      slotId,
      signing.id,
      unsigned,
      requirePss && algorithm === 'auto' ? 'pss' : algorithm,
    );
    const pkg: ExchangePackage = { ...unsigned, signature };
    const text = packageText(pkg);
    // What is written must be what another mkm accepts: read it back through the verifier's own
    // checks (trust aside, which is the reader's decision).
    const reread = parsePackage(text);
    const { signer } = checkSignature(reread, { requirePss });
    checkContents(reread, created);
    this.options.logger.info('exchange package made', {
      packageId: pkg.id,
      purpose,
      items: items.length,
      signer: pkg.signer.spkiSha256,
      alg: signature.alg,
    });
    const day = pkg.created.slice(0, 10);
    return {
      text,
      fileName: `${purpose}-${day}-${pkg.id.slice(0, 8)}.mkmx`,
      summary: summarize(reread, signer),
    };
  }

  /**
   * PSS where the token does it (randomized, with a security proof), PKCS#1 v1.5 otherwise. The
   * token is asked rather than its mechanism list read: lists are known to lie (see probe.host.ts).
   */
  private async sign(
    slotId: number,
    id: string,
    unsigned: UnsignedExchangePackage,
    algorithm: 'auto' | 'pss' | 'pkcs1',
  ): Promise<{ alg: ExchangeSignatureAlg; value: string }> {
    const { tokens } = this.options;
    // The algorithm is part of what is signed, so each attempt signs its own bytes.
    const b64 = (alg: ExchangeSignatureAlg) =>
      signedBytes({ ...unsigned, signature: { alg } }).toString('base64');
    if (algorithm !== 'pkcs1') {
      try {
        const { signature } = await countedUse(this.options.usage, { slotId, id }, 'sign', 1, () =>
          tokens.call('sign', {
            slotId,
            id,
            mechanism: 'SHA256_RSA_PKCS_PSS',
            data: b64('RSASSA-PSS-SHA256'),
          }),
        );
        return { alg: 'RSASSA-PSS-SHA256', value: signature };
      } catch (error) {
        if (algorithm === 'pss' || toErrorShape(error).code !== 'MECHANISM_UNSUPPORTED') throw error;
        this.options.logger.info('token has no RSASSA-PSS; signing with PKCS#1 v1.5', { slotId });
      }
    }
    const { signature } = await countedUse(this.options.usage, { slotId, id }, 'sign', 1, () =>
      tokens.call('sign', {
        slotId,
        id,
        mechanism: 'SHA256_RSA_PKCS',
        data: b64('RSASSA-PKCS1-v1_5-SHA256'),
      }),
    );
    return { alg: 'RSASSA-PKCS1-v1_5-SHA256', value: signature };
  }

  private async itemsFor(
    request: ExportRequest,
    slotId: number,
    objects: ObjectInfo[],
  ): Promise<ExchangeItem[]> {
    const { tokens } = this.options;
    if (request.kind === 'gateway-key') {
      if (!request.profileId)
        throw new MkmError('VALIDATION', 'Name the gateway profile whose key is exported.', {
          field: 'profileId',
        });
      return this.gatewayKeyItems(request.profileId);
    }
    const keyIds = [...new Set(request.keyIds ?? [])];
    if (keyIds.length === 0) {
      throw new MkmError('VALIDATION', 'Name at least one key for the package.', { field: 'keyIds' });
    }
    const items: ExchangeItem[] = [];
    if (request.kind === 'registration') {
      const caps = await requireCapability(tokens, slotId, 'keyset-unwrap');
      if (caps.bestOaepUnwrap === null)
        throw new MkmError('CAPABILITY_MISSING', undefined, { capability: 'rsaOaepUnwrap' });
      const wrapping = WRAPPING_OF[caps.bestOaepUnwrap];
      for (const keyId of keyIds) {
        const priv = objects.find((o) => o.id === keyId && o.class === 'private');
        if (!priv)
          throw new MkmError('KEY_NOT_FOUND', `No private key with id ${keyId} on the token.`, { keyId });
        if (priv.keyType !== 'rsa' || purposeOf(priv.usages) !== 'gateway-transport') {
          throw new MkmError(
            'KEY_TYPE_INCONSISTENT',
            `"${priv.label}" is not a gateway transport key (RSA, unwrap only).`,
            {
              keyId,
            },
          );
        }
        const pub = await tokens.call('exportPublicKey', { slotId, id: keyId, format: 'pem' });
        items.push({
          kind: 'registration-request',
          keyId,
          label: priv.label.slice(0, 256),
          bits: pub.bits,
          publicKeyPem: pub.pem!,
          spkiSha256: pub.spkiSha256,
          wrapping,
        });
      }
      return items;
    }
    for (const keyId of keyIds) {
      const found = objects.filter((o) => o.id === keyId);
      const secret = found.find((o) => o.class === 'secret');
      const pair = found.find((o) => o.class === 'private') ?? found.find((o) => o.class === 'public');
      if (secret) {
        await requireCapability(tokens, slotId, secret.keyType === 'aes' ? 'kcv-aes' : 'kcv-hmac');
        const { kcv, method } = await tokens.call('kcv', { slotId, id: keyId });
        items.push({
          kind: 'kcv',
          keyId,
          label: secret.label.slice(0, 256),
          keyType: method === 'cmac' ? 'aes-256' : 'hmac-256',
          method,
          kcv,
        });
      } else if (pair && pair.keyType === 'rsa') {
        const pub = await tokens.call('exportPublicKey', { slotId, id: keyId, format: 'pem' });
        const priv = found.find((o) => o.class === 'private');
        items.push({
          kind: 'public-key',
          keyId,
          label: pair.label.slice(0, 256),
          purpose: priv ? purposeOf(priv.usages) : null,
          bits: pub.bits,
          spkiPem: pub.pem!,
          spkiSha256: pub.spkiSha256,
        });
      } else {
        throw new MkmError('KEY_NOT_FOUND', `No AES, HMAC or RSA key with id ${keyId} on the token.`, {
          keyId,
        });
      }
    }
    return items;
  }

  /** The pinned key as the gateway client keeps it (PEM included), read, never written. */
  private gatewayKeyItems(profileId: string): ExchangeItem[] {
    const profile = this.options.gateway.profiles.get(profileId);
    const state = this.options.gateway.readState(profileId);
    const pinned = state.gatewayKey.pinned;
    if (!pinned) {
      throw new MkmError(
        'NOT_FOUND',
        `No gateway key is pinned for "${profileId}" yet: run mkm gateway fetch-key first.`,
        {
          profileId,
        },
      );
    }
    const receipts: ExchangeItem[] = this.receipts.list(profileId).map((r) => ({
      kind: 'registration-receipt',
      keyId: r.keyId,
      spkiSha256: r.spkiSha256,
      wrapping: r.wrapping,
      status: r.status,
      registeredAt: r.registeredAt,
    }));
    return [
      {
        kind: 'gateway-key',
        profile: { id: profile.id, name: profile.name.slice(0, 256), baseUrl: profile.baseUrl },
        gatewayKeyId: pinned.keyId,
        pem: pinned.pem,
        spkiSha256: pinned.spkiSha256,
        padding: pinned.padding,
      },
      ...receipts,
    ];
  }

  // ------------------------------------------------------------------ verify and import

  /**
   * Every check, in order; the first failure is the answer. Nothing is read from the token or
   * sent anywhere: verification needs only the file and this installation's trust decisions.
   */
  private check(request: VerifyRequest): { pkg: ExchangePackage; verification: ExchangeVerification } {
    const pkg = parsePackage(request.package);
    const requirePss = request.requirePss === true || this.policyStore.get().requirePss;
    const { signer } = checkSignature(pkg, { requirePss });
    const trust = this.trust(pkg.signer.spkiSha256, request.signer);
    checkContents(pkg, this.clock());
    checkKinds(pkg, request.expect);
    return { pkg, verification: { verified: true, summary: summarize(pkg, signer), trust } };
  }

  private trust(actual: string, expected: string | undefined): ExchangeVerification['trust'] {
    if (expected !== undefined) {
      if (expected === actual) return { by: 'expected-fingerprint' };
      throw new MkmError(
        'EXCHANGE_SIGNER_UNTRUSTED',
        `The signature is valid, but the signer is not the expected one: it was signed by ${colonHex(actual)}, not ${colonHex(expected)}.`,
        { reason: 'signer-not-expected', signatureValid: true, signer: actual, expected },
      );
    }
    const known = this.signers.find(actual);
    if (known) return { by: 'trusted-signer', name: known.name, addedAt: known.addedAt };
    throw new MkmError(
      'EXCHANGE_SIGNER_UNTRUSTED',
      `The signature is valid, but the signer ${colonHex(actual)} is not trusted here. Compare this fingerprint with the signer's owner by another channel, then give it with --signer or add it to the trusted signers.`,
      { reason: 'signer-not-trusted', signatureValid: true, signer: actual },
    );
  }

  async verify(request: VerifyRequest): Promise<ExchangeVerification> {
    return (await this.checkSealed(request)).verification;
  }

  /** check(), and when the trusted list vouched for the signer, that list's seal (state-seal.nodejs.ts). */
  private async checkSealed(request: VerifyRequest) {
    const checked = this.check(request);
    if (checked.verification.trust.by === 'trusted-signer') {
      await this.signers.check();
    }
    return checked;
  }

  /**
   * Verify, claim the package id (a second import of the same package is EXCHANGE_REPLAYED),
   * then act. An import that fails gives its claim back, so the same file can be tried again
   * once the cause is fixed; one that succeeded keeps it until the package has expired.
   */
  async import(request: VerifyRequest & { profileId: string }): Promise<ExchangeImport> {
    const { pkg, verification } = await this.checkSealed(request);
    // A package that cannot be acted on is refused before its id is claimed.
    if (pkg.purpose === 'key-announcement') return this.act(pkg, verification, request.profileId);
    this.seen.claim(
      {
        id: pkg.id,
        purpose: pkg.purpose,
        expires: pkg.expires,
        importedAt: this.clock().toISOString(),
        packageSha256: createHash('sha256').update(request.package, 'utf8').digest('hex'),
      },
      this.clock(),
    );
    try {
      return await this.act(pkg, verification, request.profileId);
    } catch (error) {
      this.seen.release(pkg.id);
      throw error;
    }
  }

  private async act(
    pkg: ExchangePackage,
    verification: ExchangeVerification,
    profileId: string,
  ): Promise<ExchangeImport> {
    // The profile is checked after verification, so a refusal always names the package's fault first.
    const profile = this.options.gateway.profiles.get(profileId);
    switch (pkg.purpose) {
      case 'registration-request': {
        const uploader = new RegistrationUploader({
          profile,
          secrets: this.secrets,
          logger: this.options.logger,
          http: this.options.http ?? this.options.gateway.httpOptions,
          onSignIn: (r) =>
            this.options.record({
              action: 'gateway.session.sign-in',
              result: r.ok ? 'ok' : isErrorCode(r.code) ? r.code : 'INTERNAL',
              details: { profileId, via: 'exchange.import' },
            }),
        });
        const registrations: ExchangeReceiptView[] = [];
        try {
          for (const item of pkg.items) {
            if (item.kind !== 'registration-request') continue;
            try {
              const receipt = await uploader.register(item);
              registrations.push(receipt);
              this.audit('exchange.registration.upload', 'ok', item.keyId, item.spkiSha256, {
                profileId,
                packageId: pkg.id,
                wrapping: item.wrapping,
                created: receipt.created,
              });
            } catch (error) {
              this.audit(
                'exchange.registration.upload',
                toErrorShape(error).code,
                item.keyId,
                item.spkiSha256,
                {
                  profileId,
                  packageId: pkg.id,
                },
              );
              throw error;
            }
          }
        } finally {
          // What the gateway already accepted is kept even when a later item failed.
          if (registrations.length) this.receipts.record(profileId, registrations);
        }
        return { verification, profileId, registrations };
      }
      case 'gateway-key': {
        const key = pkg.items.find((i) => i.kind === 'gateway-key')!;
        // GatewayService pins a PEM with the profile's CSE padding (PKCS#1 v1.5 when it has
        // none). A key the gateway uses with another padding would be pinned with the wrong one
        // and every field encrypted under it refused, so the profile must say the same first.
        const padding = profile.scheme.cse?.padding ?? 'RSAES-PKCS1-V1_5';
        if (padding !== key.padding) {
          throw new MkmError(
            'CONFLICT',
            `The gateway uses this key with ${key.padding}, but profile "${profileId}" encrypts with ${padding}. Set the profile's client-side encryption to ${key.padding === 'RSAES-OAEP-SHA256' ? 'oaep' : 'pkcs1'} first (mkm gateway add --cse).`,
            { reason: 'padding-mismatch', profileId, packagePadding: key.padding, profilePadding: padding },
          );
        }
        const state = await this.options.gateway.importKeyPem(profileId, key.pem);
        const landed =
          state.pinned?.spkiSha256 === key.spkiSha256 || state.pending?.spkiSha256 === key.spkiSha256;
        if (!landed) {
          throw new MkmError(
            'INTERNAL',
            'The gateway key from the package was not recorded for the profile.',
            { profileId },
          );
        }
        const receipts = pkg.items.flatMap((i): ExchangeReceiptView[] =>
          i.kind === 'registration-receipt'
            ? [
                {
                  keyId: i.keyId,
                  spkiSha256: i.spkiSha256,
                  wrapping: i.wrapping,
                  status: i.status,
                  registeredAt: i.registeredAt,
                  created: false,
                },
              ]
            : [],
        );
        if (receipts.length) this.receipts.record(profileId, receipts);
        return {
          verification,
          profileId,
          gatewayKey: {
            status: state.status,
            pinned: state.pinned?.spkiSha256 ?? null,
            pending: state.pending?.spkiSha256 ?? null,
          },
          receipts,
        };
      }
      case 'key-announcement':
        throw new MkmError(
          'EXCHANGE_KIND_REFUSED',
          'A key announcement carries public keys and check values to compare; verify it (mkm exchange verify), there is nothing to import.',
          { reason: 'announcement-not-importable', purpose: pkg.purpose },
        );
    }
  }

  // ------------------------------------------------------------------ trusted signers

  trustedSigners(): TrustedSigner[] {
    return this.signers.list();
  }

  trustSigner(spkiSha256: string, name: string): TrustedSigner {
    return this.signers.add({
      spkiSha256,
      name,
      addedAt: this.clock().toISOString(),
      addedBy: currentOsUser(),
    });
  }

  untrustSigner(spkiSha256: string): { removed: boolean } {
    return { removed: this.signers.remove(spkiSha256) };
  }

  // ------------------------------------------------------------------ signature policy

  policy(): ExchangePolicy {
    return this.policyStore.get();
  }

  setPolicy(requirePss: boolean): ExchangePolicy {
    return this.policyStore.set(requirePss, this.clock().toISOString(), currentOsUser());
  }

  private audit(
    action: string,
    result: AuditAppend['result'],
    keyId: string,
    fingerprint: string,
    details: Record<string, unknown>,
  ): void {
    this.options.record({ action, result, key: { id: keyId, fingerprint }, details });
  }
}
