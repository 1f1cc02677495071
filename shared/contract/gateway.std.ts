import { z } from 'zod';
import { channel, CONFIRMED, noArgs } from '../contract-kit.std';
import type { MkmErrorShape } from '../errors.std';
import { SlotIdSchema } from '../tokens.std';

/**
 * Gateway profiles, pinned gateway keys, transport keys and key sets (`gateway.*`).
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */

export const GATEWAY_CSE_PADDINGS = ['RSAES-PKCS1-V1_5', 'RSAES-OAEP-SHA256'] as const;
const PROFILE_ID = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const SHA256_HEX = z.string().regex(/^[0-9a-fA-F]{64}$/);
const gatewayProfileRef = z.strictObject({ profileId: PROFILE_ID });

/** A gateway profile as shown: no secret is ever part of one. */
export interface GatewayProfileView {
  id: string;
  name: string;
  baseUrl: string;
  username: string;
  tlsPinSha256: string | null;
  cse: (typeof GATEWAY_CSE_PADDINGS)[number] | null;
  keyRolling: boolean;
  /** The embedded local sandbox: a demo gateway, labelled DEMO. */
  demo: boolean;
  /** A password is at hand (typed this session, kept encrypted, or from the environment). */
  passwordKnown: boolean;
  /** The environment variable that serves this profile's password (CLI, browser mode), if any. */
  passwordEnv: string | null;
}
/** Who compared a pinned key's fingerprint with the gateway's, out of band; null: unconfirmed. */
export interface GatewayPinConfirmation {
  by: string;
  role: string | null;
  at: string;
}
export interface GatewayPublicKeyView {
  keyId: string | null;
  spkiSha256: string;
  padding: string;
  source: 'fetched' | 'imported';
  seenAt: string;
  confirmed: GatewayPinConfirmation | null;
}
export interface GatewayKeyState {
  status: 'none' | 'pinned' | 'rotation-pending';
  pinned: GatewayPublicKeyView | null;
  /** The key the gateway now serves, waiting for an admin's confirmation. */
  pending: GatewayPublicKeyView | null;
  previous?: { keyId: string; spkiSha256: string; acceptedUntil: string }[];
}
/** The gateway's key-set signing key (contract 1.1): pinned like the encryption key. */
export interface GatewaySigningKeyView {
  keyId: string | null;
  spkiSha256: string;
  source: 'fetched' | 'imported';
  seenAt: string;
  confirmed: GatewayPinConfirmation | null;
}
export interface GatewaySigningKeyState {
  status: 'none' | 'pinned' | 'rotation-pending';
  pinned: GatewaySigningKeyView | null;
  /** The key the gateway now signs with, waiting for an admin's confirmation. */
  pending: GatewaySigningKeyView | null;
  /** Keys replaced by a confirmed rotation; sets they signed are accepted until then. */
  previous: { keyId: string | null; spkiSha256: string; acceptedUntil: string }[];
}
export interface GatewayKeySetView {
  setId: string;
  wrappingKeyId: string;
  expiresAt: string;
}
export interface GatewayMerchantKeyView {
  keyId: string;
  label: string | null;
  spkiSha256: string;
  wrapping: string | null;
  status: 'active' | 'retired';
  registeredAt: string;
  retiredAt: string | null;
}
export interface GatewaySyncReport {
  at: string;
  ok: boolean;
  /** The step that failed (token, gateway-key, signing-key, merchant-keys, key-set). */
  step: string | null;
  error: MkmErrorShape | null;
  gatewayKey: GatewayKeyState | null;
  /** Key-rolling profiles: the signing key the sets are checked against (contract 1.1). */
  signingKey: GatewaySigningKeyState | null;
  merchantKeys: GatewayMerchantKeyView[] | null;
  keySet: GatewayKeySetView | null;
}
export interface GatewayStatus {
  profile: GatewayProfileView;
  gatewayKey: GatewayKeyState;
  rotationPending: boolean;
  signingKey: GatewaySigningKeyState;
  signingRotationPending: boolean;
  merchantKeys: GatewayMerchantKeyView[];
  /** `inToken: false`: recorded by an earlier run; the next message asks for a fresh set. */
  keySet: (GatewayKeySetView & { inToken: boolean }) | null;
  lastSync: GatewaySyncReport | null;
}
export interface GatewayRegistration {
  profileId: string;
  keyId: string;
  spkiSha256: string;
  wrapping: string;
  created: boolean;
  registeredAt: string;
  keySet: GatewayKeySetView | { refused: string };
}
export interface GatewayEmbeddedSandbox {
  /** Unpackaged UIs only: a packaged app never starts it. */
  available: boolean;
  running: boolean;
  url: string | null;
  profileId: string | null;
}
export interface GatewayPingResult {
  profileId: string;
  setId: string;
  serverTime: string;
  nextKeySet: GatewayKeySetView | { refused: string };
}

export const gatewayContract = {
  addProfile: channel(
    z.strictObject({
      id: PROFILE_ID.optional(),
      name: z.string().trim().min(1).max(128),
      baseUrl: z.string().min(1).max(2048),
      username: z.string().min(1).max(256),
      tlsPinSha256: SHA256_HEX.optional(),
      cse: z.enum(GATEWAY_CSE_PADDINGS).optional(),
      keyRolling: z.boolean().optional(),
      /** The environment variable that holds this profile's password (CLI, browser mode). */
      passwordEnv: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]{0,63}$/)
        .optional(),
    }),
    'Add a gateway profile (its password is never stored).',
  )
    .returns<GatewayProfileView>()
    .audited((r, res) => ({
      action: 'gateway.profile.add',
      details: {
        profileId: (res as { id?: string } | undefined)?.id ?? r.id ?? null,
        baseUrl: r.baseUrl,
        username: r.username,
        tlsPin: r.tlsPinSha256 ?? null,
        // The variable's name only: which environment variable may serve this profile's password.
        passwordEnv: r.passwordEnv ?? null,
      },
    })),
  listProfiles: channel(noArgs, 'The gateway profiles.')
    .returns<GatewayProfileView[]>()
    .notAudited('reads the gateway profiles'),
  // Where the password is kept, never the password.
  setPassword: channel(
    z.strictObject({
      profileId: PROFILE_ID,
      password: z.string().min(1).max(1024),
      remember: z.boolean().optional(),
    }),
    "A profile's gateway password: kept in main for the session (remember: encrypted by the OS).",
  )
    .returns<{ kept: 'session' | 'encrypted' }>()
    .audited((r, res) => ({
      action: 'gateway.profile.password',
      details: { profileId: r.profileId, kept: (res as { kept?: string } | undefined)?.kept ?? null },
    })),
  embeddedSandbox: channel(
    noArgs,
    'The local demo sandbox: whether it runs, and whether this mode may start it.',
  )
    .returns<GatewayEmbeddedSandbox>()
    .notAudited('reads whether the local demo sandbox runs'),
  startEmbeddedSandbox: channel(
    noArgs,
    'Start the local demo sandbox on 127.0.0.1 and add its "Local sandbox (demo)" profile.',
  )
    .returns<GatewayEmbeddedSandbox>()
    .audited((_r, res) => ({
      action: 'gateway.sandbox.start',
      details: { url: (res as { url?: string | null } | undefined)?.url ?? null },
    })),
  removeProfile: channel(
    z.strictObject({ profileId: PROFILE_ID, confirm: CONFIRMED }),
    'Forget a gateway profile.',
  )
    .returns<{ removed: boolean }>()
    .audited((r) => ({ action: 'gateway.profile.remove', details: { profileId: r.profileId } })),
  status: channel(
    gatewayProfileRef,
    "A profile's pinned gateway key, transport keys, key set and last sync (never key material).",
  )
    .returns<GatewayStatus>()
    .notAudited('reads a profile state (never key material)'),
  registerTransportKey: channel(
    z.strictObject({
      profileId: PROFILE_ID,
      slotId: SlotIdSchema,
      keyId: z.string().regex(/^[0-9a-fA-F]{1,128}$/),
    }),
    "Register a token RSA key pair as the merchant's transport key at the gateway.",
  )
    .returns<GatewayRegistration>()
    .recordsItself(),
  fetchKey: channel(
    gatewayProfileRef,
    "Fetch the gateway's public key: pinned on first sight, a rotation to confirm after.",
  )
    .returns<GatewayKeyState>()
    .recordsItself(),
  importKeyPem: channel(
    z.strictObject({ profileId: PROFILE_ID, pem: z.string().min(1).max(16_384) }),
    "Import the gateway's public key PEM by hand (a gateway without a key endpoint).",
  )
    .returns<GatewayKeyState>()
    .recordsItself(),
  confirmKeyRotation: channel(
    z.strictObject({ profileId: PROFILE_ID, fingerprint: SHA256_HEX }),
    "Accept the gateway's new public key, named by its fingerprint.",
  )
    .returns<GatewayKeyState>()
    .recordsItself(),
  confirmPin: channel(
    z.strictObject({
      profileId: PROFILE_ID,
      key: z.enum(['encryption', 'signing']),
      /** As read out by the gateway's operator: 64 hex digits, spaces or colons allowed. */
      fingerprint: z.string().min(64).max(160),
      by: z.string().trim().min(1).max(128),
      role: z.string().trim().max(128).optional(),
    }),
    "Confirm a pinned gateway key by its fingerprint, compared out of band with the gateway's; records who.",
  )
    .returns<GatewayStatus>()
    .recordsItself(),
  fetchSigningKey: channel(
    gatewayProfileRef,
    "Fetch the gateway's key-set signing key: pinned on first sight, a rotation to confirm after.",
  )
    .returns<GatewaySigningKeyState>()
    .recordsItself(),
  importSigningKeyPem: channel(
    z.strictObject({ profileId: PROFILE_ID, pem: z.string().min(1).max(16_384) }),
    "Import the gateway's key-set signing key PEM by hand (a gateway without the endpoint).",
  )
    .returns<GatewaySigningKeyState>()
    .recordsItself(),
  confirmSigningKeyRotation: channel(
    z.strictObject({ profileId: PROFILE_ID, fingerprint: SHA256_HEX }),
    "Accept the gateway's new key-set signing key, named by its fingerprint.",
  )
    .returns<GatewaySigningKeyState>()
    .recordsItself(),
  ping: channel(gatewayProfileRef, 'A secure ping under a one-use key set.')
    .returns<GatewayPingResult>()
    .recordsItself(),
  sync: channel(
    gatewayProfileRef,
    "Fetch and pin the gateway's key, list the merchant keys, ensure a usable key set.",
  )
    .returns<GatewaySyncReport>()
    .recordsItself(),
} as const;
