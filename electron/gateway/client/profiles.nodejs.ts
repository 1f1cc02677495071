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

export const PASSWORD_ENV_NAME = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'an environment variable name (A-Z 0-9 _)');

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
  /**
   * The environment variable that holds this profile's password (CLI, browser mode), named
   * when the profile was added. Without it no environment variable serves the profile: one
   * exported for one gateway must never be sent to another.
   */
  passwordEnv: PASSWORD_ENV_NAME.optional(),
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
 * Electron safeStorage (secret-store.nodejs.ts), or what the admin typed this session.
 */
export interface SecretProvider {
  /** `passwordEnv`: the variable the profile names (GatewayProfile.passwordEnv); no other is read. */
  get(profileId: string, passwordEnv?: string): Promise<string>;
  /** Keeps a password across restarts, encrypted; absent when the provider cannot. */
  store?(profileId: string, password: string): Promise<void>;
  /** Drops a kept password (the profile was removed, or a profile is added under its id). */
  forget?(profileId: string): Promise<void>;
  /** Whether a password is at hand for the profile (no decryption needed). */
  has?(profileId: string, passwordEnv?: string): boolean;
}

/** The variable the CLI and the docs suggest; it serves only profiles that name it. */
export const GATEWAY_PASSWORD_ENV = 'MKM_GATEWAY_PASSWORD';

/** The profile's own variable, when it names one and it is set. */
export function passwordFromEnv(env: NodeJS.ProcessEnv, passwordEnv: string | undefined): string | undefined {
  if (passwordEnv === undefined) return undefined;
  const value = env[passwordEnv];
  return value !== undefined && value !== '' ? value : undefined;
}

/** GATEWAY_PASSWORD_REQUIRED, saying which variable would serve (never any value). */
export function passwordRequired(profileId: string, passwordEnv: string | undefined): MkmError {
  return new MkmError(
    'GATEWAY_PASSWORD_REQUIRED',
    passwordEnv
      ? `No gateway password: set ${passwordEnv} (this profile's variable) or type it when asked.`
      : `No gateway password: this profile names no environment variable (add it with --password-env ${GATEWAY_PASSWORD_ENV}), so type it when asked.`,
    { profileId, ...(passwordEnv ? { passwordEnv } : { reason: 'no-password-env' }) },
  );
}

export interface EnvSecretProviderOptions {
  env?: NodeJS.ProcessEnv;
  /** Asked when the variable is unset (the CLI's hidden prompt). */
  prompt?: (profileId: string) => Promise<string>;
}

/**
 * CLI and browser mode: the environment variable the profile names, or a prompt. The value is
 * read at each sign-in and kept nowhere.
 */
export function envSecretProvider(options: EnvSecretProviderOptions = {}): SecretProvider {
  const env = options.env ?? process.env;
  return {
    async get(profileId, passwordEnv) {
      const fromEnv = passwordFromEnv(env, passwordEnv);
      if (fromEnv !== undefined) return fromEnv;
      if (options.prompt) {
        const typed = await options.prompt(profileId);
        if (typed !== '') return typed;
      }
      throw passwordRequired(profileId, passwordEnv);
    },
    has: (_profileId, passwordEnv) => passwordFromEnv(env, passwordEnv) !== undefined,
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

  async get(profileId: string, passwordEnv?: string): Promise<string> {
    return this.typed.get(profileId) ?? this.behind.get(profileId, passwordEnv);
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

  has(profileId: string, passwordEnv?: string): boolean {
    return this.typed.has(profileId) || (this.behind.has?.(profileId, passwordEnv) ?? false);
  }

  /** Whether the provider behind can keep a password across restarts. */
  get canRemember(): boolean {
    return this.behind.store !== undefined;
  }
}
