import type { LifecycleKeyView, LifecycleVersionView } from '../../../shared/contract.std';
import type { LifecycleDueReport } from '../../../shared/contract/lifecycle.std';
import type { KeyState, ManagedPurpose } from '../../../shared/lifecycle/vocabulary.std';
import type { BadgeTone } from '../ui/bits.dom';
import { formatKcv } from '../../../shared/wording.std';

/** Words for the lifecycle's vocabulary, shared by the managed keys screen and the dashboard. */

export const PURPOSE_NAMES: Record<ManagedPurpose, string> = {
  'gateway-transport': 'Gateway transport (RSA)',
  'gateway-public': 'Gateway public key',
  data: 'Data encryption (AES)',
  kek: 'Key encryption (KEK)',
  hmac: 'Message authentication (HMAC)',
  signing: 'Signing (RSA)',
  audit: 'Audit sealing (HMAC)',
};

export const STATE_TONES: Record<KeyState, BadgeTone> = {
  'pre-activation': 'info',
  active: 'ok',
  suspended: 'warn',
  deactivated: 'neutral',
  compromised: 'danger',
  destroyed: 'neutral',
};

export const STATE_HELP: Record<KeyState, string> = {
  'pre-activation': 'Made but not in use yet',
  active: 'In use',
  suspended: 'Temporarily not usable at all',
  deactivated: 'No new encryption; still decrypts and verifies',
  compromised: 'Not usable at all: treat what it protected as exposed',
  destroyed: 'Gone from the token; the record stays as a tombstone',
};

export const GATEWAY_STATUS_NAMES: Record<LifecycleVersionView['gateway']['status'], string> = {
  'not-required': 'not needed',
  pending: 'pending',
  registered: 'registered',
  failed: 'registration failed',
  skipped: 'not registered (no gateway connected)',
  retirePending: 'retirement pending',
  retired: 'retired at the gateway',
};

export type DueItem = LifecycleDueReport['due'][number];

export const DUE_TONES: Record<DueItem['level'], BadgeTone> = {
  warning: 'warn',
  due: 'warn',
  overdue: 'danger',
};

export function day(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 10) : '—';
}

export function dateTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

export function fingerprintText(v: Pick<LifecycleVersionView, 'fingerprint' | 'fingerprintNote'>): string {
  if (!v.fingerprint) return v.fingerprintNote ?? '—';
  return v.fingerprint.kind === 'kcv'
    ? `KCV ${formatKcv(v.fingerprint.value)}`
    : `SHA-256 ${v.fingerprint.value.slice(0, 16).toUpperCase()}…`;
}

export function dueReasonText(r: DueItem['reasons'][number]): string {
  switch (r.kind) {
    case 'age':
      return r.daysLeft >= 0
        ? `crypto-period ends ${day(r.expiresAt)} (${r.daysLeft} days left)`
        : `crypto-period ended ${day(r.expiresAt)}`;
    case 'uses':
      return `${r.uses.toLocaleString()} of ${r.maxUses.toLocaleString()} uses`;
    case 'compromised':
      return 'a version was declared compromised';
    case 'no-primary':
      return 'no version is in use';
  }
}

export function primaryOf(key: LifecycleKeyView): LifecycleVersionView | null {
  return key.versions.find((v) => v.id === key.primaryVersionId) ?? null;
}

/** Versions still in their grace period: replaced, but active for decryption until graceUntil. */
export function inGrace(key: LifecycleKeyView): LifecycleVersionView[] {
  return key.versions.filter((v) => !v.primary && v.state === 'active' && v.graceUntil !== null);
}

export function usesText(v: LifecycleVersionView, maxUses: number | null): string {
  return maxUses === null
    ? v.useCount.toLocaleString()
    : `${v.useCount.toLocaleString()} / ${maxUses.toLocaleString()}`;
}
