import { z } from 'zod';
import type { ExchangeItem, ExchangeReceiptView } from '../../../shared/contract/exchange.std';
import { MkmError } from '../../../shared/errors.std';
import { issueLines } from '../../../shared/formats/schemas.std';
import type { Logger } from '../../core/logger.nodejs';
import { HttpsJsonClient, type HttpsJsonClientOptions } from '../client/https.nodejs';
import type { GatewayProfile, SecretProvider } from '../client/profiles.nodejs';
import { GatewaySession } from '../client/session.nodejs';

/**
 * Uploads a merchant transport key registration that arrived in a package. The online machine
 * does not hold the key (it lives on the air-gapped token), so GatewayClient's own registration,
 * which exports the key from the local token and installs the first key set, does not apply:
 * this sends exactly what the package carries, over the same TLS-pinned HTTPS client and OAuth
 * session, and checks the gateway registered exactly that. The key set that comes back is wrapped
 * for the air-gapped token; nobody here can unwrap it, so it is dropped (sets are one-use and
 * expire; the key's owner asks for fresh ones).
 */

type RegistrationRequest = Extract<ExchangeItem, { kind: 'registration-request' }>;

const RegisterAnswer = z.object({
  key_id: z.string(),
  spki_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  wrapping: z.enum(['RSAES-OAEP-SHA256', 'RSAES-OAEP-SHA1']),
  status: z.literal('active'),
  registered_at: z.string().max(64),
});

export interface RegistrationUploaderOptions {
  profile: GatewayProfile;
  secrets: SecretProvider;
  logger: Logger;
  http?: Omit<HttpsJsonClientOptions, 'baseUrl' | 'tlsPinSha256' | 'logger'> | undefined;
  /** Each OAuth sign-in, for the audit log (as GatewayClient reports its own). */
  onSignIn?: (result: { ok: boolean; code?: string }) => void;
}

export class RegistrationUploader {
  private readonly session: GatewaySession;

  constructor(options: RegistrationUploaderOptions) {
    const http = new HttpsJsonClient({
      ...options.http,
      baseUrl: options.profile.baseUrl,
      tlsPinSha256: options.profile.tlsPinSha256,
      logger: options.logger,
    });
    this.session = new GatewaySession({
      http,
      profileId: options.profile.id,
      username: options.profile.username,
      secrets: options.secrets,
      passwordEnv: options.profile.passwordEnv,
      ...(options.onSignIn ? { onSignIn: options.onSignIn } : {}),
    });
  }

  /** Safe to repeat: the gateway answers the same key under the same id with 200. */
  async register(item: RegistrationRequest): Promise<ExchangeReceiptView> {
    const reply = await this.session.call({
      method: 'POST',
      path: '/v1/encryption/merchant_keys',
      json: { key_id: item.keyId, public_key_pem: item.publicKeyPem, wrapping: item.wrapping },
      idempotent: true,
    });
    const parsed = RegisterAnswer.safeParse(reply.body);
    if (!parsed.success) {
      const issues = issueLines(parsed.error);
      throw new MkmError('GATEWAY_BAD_RESPONSE', `merchant key registration: ${issues[0]}`, { issues });
    }
    const body = parsed.data;
    if (
      body.key_id !== item.keyId ||
      body.spki_sha256 !== item.spkiSha256 ||
      body.wrapping !== item.wrapping
    ) {
      throw new MkmError(
        'GATEWAY_BAD_RESPONSE',
        'The gateway registered something other than what was sent.',
        {
          reason: 'registration-mismatch',
          keyId: item.keyId,
        },
      );
    }
    return {
      keyId: body.key_id,
      spkiSha256: body.spki_sha256,
      wrapping: body.wrapping,
      status: body.status,
      registeredAt: body.registered_at,
      created: reply.status === 201,
    };
  }
}
