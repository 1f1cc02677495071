import type { MkmErrorShape } from '../../../shared/errors.std';

/** A SHA-256 fingerprint in groups of four hex digits, so two can be compared by eye. */
export { groupFingerprint as fpGroups } from '../../../shared/formats/fingerprint.std';

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : 'never';
}

/** Errors that mean "the gateway cannot be reached from here" (the app keeps working offline). */
const OFFLINE_CODES = new Set(['GATEWAY_UNREACHABLE', 'TIMEOUT']);

export function isOffline(error: Pick<MkmErrorShape, 'code'> | null | undefined): boolean {
  return Boolean(error && OFFLINE_CODES.has(error.code));
}

/** Errors the admin answers by typing the gateway password. */
export function needsPassword(error: Pick<MkmErrorShape, 'code'> | null | undefined): boolean {
  return Boolean(
    error && (error.code === 'GATEWAY_PASSWORD_REQUIRED' || error.code === 'GATEWAY_UNAUTHORIZED'),
  );
}

export const gatewayKeys = {
  all: ['gateway'] as const,
  profiles: ['gateway', 'profiles'] as const,
  sandbox: ['gateway', 'sandbox'] as const,
  status: (profileId: string) => ['gateway', 'status', profileId] as const,
};
