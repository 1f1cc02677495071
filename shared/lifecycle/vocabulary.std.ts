/**
 * The key lifecycle's vocabulary, defined once for every side: the inventory model
 * (electron/lifecycle/model.std.ts), the `lifecycle.*` and `report.*` channels, the CLI and the renderer.
 */

/** NIST SP 800-57 Pt 1 Rev 5 §7.1–7.3 states of a key version. */
export const KEY_STATES = [
  'pre-activation',
  'active',
  'suspended',
  'deactivated',
  'compromised',
  'destroyed',
] as const;
export type KeyState = (typeof KEY_STATES)[number];

/** Purposes of a managed key that lives on the token (gateway-public is imported, not made). */
export const TOKEN_PURPOSES = ['gateway-transport', 'data', 'kek', 'hmac', 'signing', 'audit'] as const;
export type TokenPurpose = (typeof TOKEN_PURPOSES)[number];

/**
 * The token purposes, plus `gateway-public`: the gateway's own RSA public key, imported as PEM,
 * public only, with no token object.
 */
export const MANAGED_PURPOSES = [
  'gateway-transport',
  'gateway-public',
  'data',
  'kek',
  'hmac',
  'signing',
  'audit',
] as const;
export type ManagedPurpose = (typeof MANAGED_PURPOSES)[number];

// The two purpose lists keep their own order (z.enum messages name them); this fails to compile
// if they ever differ by more than gateway-public.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _purposes: Same<ManagedPurpose, TokenPurpose | 'gateway-public'> = true;
void _purposes;

export const MANAGED_KEY_TYPES = ['aes-256', 'hmac-256', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type ManagedKeyType = (typeof MANAGED_KEY_TYPES)[number];

/** How pressing a rotation is: its crypto-period or use limit is near, reached or past. */
export type DueLevel = 'warning' | 'due' | 'overdue';
