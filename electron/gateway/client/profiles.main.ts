import { z } from 'zod';
import { MkmError } from '../../../shared/errors.std';
import { issueLines } from '../../../shared/formats/schemas.std';

/**
 * A gateway profile: where the gateway is and how to talk to it. It holds no secret: the
 * password comes from a SecretProvider when a session signs in, and is never stored here,
 * logged, or put into an error.
 */

export const CSE_PADDINGS = ['RSAES-PKCS1-V1_5', 'RSAES-OAEP-SHA256'] as const;

const httpsUrl = z
  .string()
  .max(2048)
  .refine((text) => {
    try {
      const url = new URL(text);
      return url.protocol === 'https:' && url.username === '' && url.password === '' && url.search === '';
    } catch {
      return false;
    }
  }, 'must be an https:// address without credentials or query')
  .transform((text) => text.replace(/\/+$/, ''));

export const GatewayProfileSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, '1-64 characters of A-Z a-z 0-9 . _ -'),
  name: z.string().trim().min(1).max(128),
  baseUrl: httpsUrl,
  username: z.string().min(1).max(256),
  /** Lowercase hex SHA-256 of the gateway's TLS SubjectPublicKeyInfo. */
  tlsPinSha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, '64 hex digits')
    .transform((s) => s.toLowerCase())
    .optional(),
  scheme: z.strictObject({
    /** Client-side encryption (PayTrace style). */
    cse: z
      .strictObject({
        padding: z.enum(CSE_PADDINGS),
        /** The gateway's public key PEM, for a gateway without a public_key endpoint. */
        importedPem: z.string().max(16_384).optional(),
      })
      .optional(),
    /** Key-rolling secure messages (Pace style). */
    keyRolling: z.boolean().optional(),
  }),
  /** The app's embedded local sandbox (a demo gateway, never a real one). */
  demo: z.boolean().optional(),
});

export type GatewayProfile = z.output<typeof GatewayProfileSchema>;
export type GatewayProfileInput = z.input<typeof GatewayProfileSchema>;

/** A validated profile, or VALIDATION with one line per problem. */
export function parseGatewayProfile(value: unknown): GatewayProfile {
  const result = GatewayProfileSchema.safeParse(value);
  if (result.success) return result.data;
  const issues = issueLines(result.error);
  throw new MkmError('VALIDATION', `Gateway profile: ${issues[0]}`, { issues });
}

/**
 * Where a session gets the gateway password: the environment or a prompt (CLI, browser mode),
 * Electron safeStorage (secret-store.main.ts), or what the admin typed this session.
 */
export interface SecretProvider {
  get(profileId: string): Promise<string>;
  /** Keeps a password across restarts, encrypted; absent when the provider cannot. */
  store?(profileId: string, password: string): Promise<void>;
  /** Drops a kept password (the profile was removed). */
  forget?(profileId: string): Promise<void>;
  /** Whether a password is kept for the profile (no decryption needed). */
  has?(profileId: string): boolean;
}

export const GATEWAY_PASSWORD_ENV = 'MKM_GATEWAY_PASSWORD';

export interface EnvSecretProviderOptions {
  env?: NodeJS.ProcessEnv;
  /** Asked when the variable is unset (the CLI's hidden prompt). */
  prompt?: (profileId: string) => Promise<string>;
}

/**
 * CLI and browser mode: MKM_GATEWAY_PASSWORD, or a prompt when it is unset. The value is read
 * at each sign-in and kept nowhere.
 */
export function envSecretProvider(options: EnvSecretProviderOptions = {}): SecretProvider {
  const env = options.env ?? process.env;
  return {
    async get(profileId) {
      const fromEnv = env[GATEWAY_PASSWORD_ENV];
      if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
      if (options.prompt) {
        const typed = await options.prompt(profileId);
        if (typed !== '') return typed;
      }
      throw new MkmError(
        'GATEWAY_PASSWORD_REQUIRED',
        `No gateway password: set ${GATEWAY_PASSWORD_ENV} or type it when asked.`,
        { profileId },
      );
    },
    has: () => {
      const fromEnv = env[GATEWAY_PASSWORD_ENV];
      return fromEnv !== undefined && fromEnv !== '';
    },
  };
}

/**
 * Passwords typed this session, in this process's memory only, in front of another provider.
 * Browser mode asks the UI for one when a call needs it (GATEWAY_PASSWORD_REQUIRED) and keeps
 * it here: never on disk, never logged, never sent back to the renderer.
 */
export class SessionSecrets implements SecretProvider {
  private readonly typed = new Map<string, string>();

  constructor(private readonly behind: SecretProvider) {}

  async get(profileId: string): Promise<string> {
    return this.typed.get(profileId) ?? this.behind.get(profileId);
  }

  /** `remember`: also keep it encrypted by the provider behind (Electron safeStorage). */
  async set(profileId: string, password: string, remember: boolean): Promise<'session' | 'encrypted'> {
    if (remember) {
      if (!this.behind.store) {
        throw new MkmError(
          'SECRET_STORAGE_UNAVAILABLE',
          'This mode cannot keep the gateway password; it is kept for this session only.',
          { profileId },
        );
      }
      await this.behind.store(profileId, password);
    }
    this.typed.set(profileId, password);
    return remember ? 'encrypted' : 'session';
  }

  async forget(profileId: string): Promise<void> {
    this.typed.delete(profileId);
    await this.behind.forget?.(profileId);
  }

  has(profileId: string): boolean {
    return this.typed.has(profileId) || (this.behind.has?.(profileId) ?? false);
  }

  /** Whether the provider behind can keep a password across restarts. */
  get canRemember(): boolean {
    return this.behind.store !== undefined;
  }
}
