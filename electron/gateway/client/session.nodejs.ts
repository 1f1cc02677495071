import { z } from 'zod';
import { MkmError } from '../../../shared/errors.std';
import type { HttpsJsonClient, JsonRequest, JsonResponse } from './https.nodejs';
import type { SecretProvider } from './profiles.nodejs';

/**
 * The OAuth password grant of the contract. The bearer token is cached until `expires_in`
 * (less a safety margin); a token the gateway no longer accepts (401, e.g. after a gateway
 * restart or an early expiry) is replaced once, transparently, and the call repeated: a 401 is
 * answered before the gateway looks at the request, so repeating it cannot do anything twice.
 * The password is fetched from the SecretProvider for each sign-in and not kept.
 */

const TokenSchema = z.object({
  access_token: z.string().min(1).max(4096),
  token_type: z.string().regex(/^bearer$/i),
  expires_in: z.number().int().positive(),
});

export interface GatewaySessionOptions {
  http: HttpsJsonClient;
  profileId: string;
  username: string;
  secrets: SecretProvider;
  /** The environment variable the profile names for its password (no other is read). */
  passwordEnv?: string | undefined;
  /** Epoch ms; injectable for tests. */
  clock?: () => number;
  /** Renew this long before expires_in runs out. Default 30 s. */
  marginMs?: number;
  onSignIn?: (result: { ok: boolean; code?: string }) => void;
}

export class GatewaySession {
  private token: { value: string; expiresAt: number } | null = null;
  private signingIn: Promise<string> | null = null;
  private readonly clock: () => number;

  constructor(private readonly options: GatewaySessionOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** A bearer token, signing in when there is none or it is about to expire. */
  async bearer(): Promise<string> {
    const margin = this.options.marginMs ?? 30_000;
    if (this.token && this.clock() < this.token.expiresAt - margin) return this.token.value;
    this.signingIn ??= this.signIn().finally(() => (this.signingIn = null));
    return this.signingIn;
  }

  /** Forget the token (sign-out, or a 401). */
  invalidate(): void {
    this.token = null;
  }

  get signedIn(): boolean {
    return this.token !== null;
  }

  private async signIn(): Promise<string> {
    this.token = null;
    const password = await this.options.secrets.get(this.options.profileId, this.options.passwordEnv);
    let response: JsonResponse;
    try {
      response = await this.options.http.request({
        method: 'POST',
        path: '/oauth/token',
        form: { grant_type: 'password', username: this.options.username, password },
      });
    } catch (error) {
      this.options.onSignIn?.({ ok: false, code: (error as MkmError).code ?? 'INTERNAL' });
      if (error instanceof MkmError && error.code === 'GATEWAY_UNAUTHORIZED') {
        throw new MkmError('GATEWAY_UNAUTHORIZED', 'The gateway did not accept the user name or password.', {
          ...error.details,
          phase: 'sign-in',
        });
      }
      throw error;
    }
    const parsed = TokenSchema.safeParse(response.body);
    if (!parsed.success) {
      this.options.onSignIn?.({ ok: false, code: 'GATEWAY_BAD_RESPONSE' });
      throw new MkmError('GATEWAY_BAD_RESPONSE', 'The gateway sent an unreadable sign-in answer.', {
        reason: 'token-shape',
      });
    }
    const issuedAt = this.clock();
    this.token = { value: parsed.data.access_token, expiresAt: issuedAt + parsed.data.expires_in * 1000 };
    this.options.onSignIn?.({ ok: true });
    return this.token.value;
  }

  /** An authenticated call; one transparent re-sign-in on 401. */
  async call(request: Omit<JsonRequest, 'bearer'>): Promise<JsonResponse> {
    const first = await this.bearer();
    try {
      return await this.options.http.request({ ...request, bearer: first });
    } catch (error) {
      if (!(error instanceof MkmError) || error.code !== 'GATEWAY_UNAUTHORIZED') throw error;
      // Another call may already have renewed it.
      if (this.token?.value === first) this.token = null;
      const second = await this.bearer();
      return this.options.http.request({ ...request, bearer: second });
    }
  }
}
