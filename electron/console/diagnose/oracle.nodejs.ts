import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { MkmError } from '../../../shared/errors.std';
import type { Logger } from '../../core/logger.nodejs';
import type { CsePadding } from '../../crypto/cse.nodejs';
import { HttpsJsonClient, type HttpsJsonClientOptions } from '../../gateway/client/https.nodejs';
import {
  envSecretProvider,
  type GatewayProfile,
  type SecretProvider,
} from '../../gateway/client/profiles.nodejs';
import { GatewaySession } from '../../gateway/client/session.nodejs';
import type { CseFieldName } from './analyse.std';

/**
 * The sandbox gateway as the troubleshooter's oracle for client-side encrypted fields: only the
 * gateway holds its private key, so only `/v1/encryption/verify` can say whether a field
 * decrypts under its current or a previous key_id. Its own HTTPS client and session, read-only:
 * it touches neither the gateway client's state file nor its key sets. The verify endpoint is a
 * decryption oracle (Bleichenbacher for PKCS#1 v1.5), so the caller uses it against a sandbox
 * on loopback only, and a few calls per diagnosis.
 */

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const PublicKeyAnswer = z.object({
  key_id: z.string().min(1).max(128),
  spki_sha256: sha256Hex,
  padding: z.enum(['RSAES-PKCS1-V1_5', 'RSAES-OAEP-SHA256']),
  previous: z
    .array(z.object({ key_id: z.string(), spki_sha256: sha256Hex, accepted_until: z.string() }))
    .default([]),
});
const VerifyAnswer = z.object({
  fields: z.record(
    z.string(),
    z.object({
      decrypted: z.boolean(),
      length: z.number().int().nonnegative().optional(),
      last4: z.string().max(4).optional(),
      luhn_ok: z.boolean().optional(),
      aba_ok: z.boolean().optional(),
    }),
  ),
});

export interface GatewayKeyList {
  current: { keyId: string; spkiSha256: string; padding: CsePadding };
  previous: { keyId: string; spkiSha256: string; acceptedUntil: string }[];
}

export interface OracleVerdict {
  decrypted: boolean;
  length?: number | undefined;
  last4?: string | undefined;
  luhnOk?: boolean | undefined;
  abaOk?: boolean | undefined;
}

export class CseOracle {
  private readonly session: GatewaySession;
  private readonly http: HttpsJsonClient;
  calls = 0;

  constructor(
    readonly profile: GatewayProfile,
    logger: Logger,
    secrets: SecretProvider = envSecretProvider(),
    /** The app's HTTPS options (a ceremony in progress refuses every gateway call). */
    http: Omit<HttpsJsonClientOptions, 'baseUrl' | 'tlsPinSha256' | 'logger'> = {},
  ) {
    this.http = new HttpsJsonClient({
      ...http,
      baseUrl: profile.baseUrl,
      tlsPinSha256: profile.tlsPinSha256,
      logger,
      timeoutMs: 10_000,
      attempts: 1,
    });
    this.session = new GatewaySession({
      http: this.http,
      profileId: profile.id,
      username: profile.username,
      secrets,
      passwordEnv: profile.passwordEnv,
    });
  }

  async keys(): Promise<GatewayKeyList> {
    const reply = await this.session.call({
      method: 'GET',
      path: '/v1/encryption/public_key',
      idempotent: true,
    });
    const body = PublicKeyAnswer.safeParse(reply.body);
    if (!body.success)
      throw new MkmError('GATEWAY_BAD_RESPONSE', "The gateway's public key answer is unreadable.");
    return {
      current: { keyId: body.data.key_id, spkiSha256: body.data.spki_sha256, padding: body.data.padding },
      previous: body.data.previous.map((p) => ({
        keyId: p.key_id,
        spkiSha256: p.spki_sha256,
        acceptedUntil: p.accepted_until,
      })),
    };
  }

  /** One field under one key and padding. The salt is fresh; the tag it yields is not kept. */
  async verify(
    field: CseFieldName,
    base64: string,
    padding: CsePadding,
    keyId?: string,
  ): Promise<OracleVerdict> {
    this.calls++;
    const reply = await this.session.call({
      method: 'POST',
      path: '/v1/encryption/verify',
      json: {
        padding,
        ...(keyId ? { key_id: keyId } : {}),
        salt: randomBytes(16).toString('base64'),
        fields: { [field]: base64 },
      },
    });
    const body = VerifyAnswer.safeParse(reply.body);
    const verdict = body.success ? body.data.fields[field] : undefined;
    if (!verdict) throw new MkmError('GATEWAY_BAD_RESPONSE', "The gateway's verify answer is unreadable.");
    return {
      decrypted: verdict.decrypted,
      length: verdict.length,
      last4: verdict.last4,
      luhnOk: verdict.luhn_ok,
      abaOk: verdict.aba_ok,
    };
  }
}
