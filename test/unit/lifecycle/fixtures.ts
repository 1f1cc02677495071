import { randomUUID } from 'node:crypto';
import type { InventoryData, KeyVersion, LogicalKey } from '../../../electron/lifecycle/model.std';

export const T0 = '2026-01-01T00:00:00.000Z';

export function logicalKey(overrides: Partial<LogicalKey> = {}): LogicalKey {
  return {
    id: randomUUID(),
    name: 'card data',
    purpose: 'data',
    type: 'aes-256',
    tokenSerial: 'serial-1',
    createdAt: T0,
    policy: {},
    ...overrides,
  };
}

export function version(key: LogicalKey, overrides: Partial<KeyVersion> = {}): KeyVersion {
  return {
    id: randomUUID(),
    logicalKeyId: key.id,
    version: 1,
    label: `mkm/${key.id.slice(0, 8)}/v1/abcd1234`,
    tokenSerial: key.tokenSerial,
    ckaId: randomUUID().replace(/-/g, ''),
    objectClasses: ['secret'],
    type: key.type,
    purpose: key.purpose,
    state: 'active',
    primary: true,
    origin: 'generated',
    createdAt: T0,
    activatedAt: T0,
    expiresAt: '2027-01-01T00:00:00.000Z',
    graceUntil: null,
    deactivatedAt: null,
    suspendedAt: null,
    compromisedAt: null,
    destroyedAt: null,
    cryptoPeriodDays: 365,
    useCount: 0,
    fingerprint: { kind: 'kcv', method: 'cmac', value: 'a1b2c3' },
    gateway: { status: 'not-required', reference: null, updatedAt: null, error: null },
    publicKeyPem: null,
    missingSince: null,
    destroyPending: false,
    ...overrides,
  };
}

/** One data key with an active primary v1. */
export function oneKey(): { data: InventoryData; key: LogicalKey; v1: KeyVersion } {
  const key = logicalKey();
  const v1 = version(key);
  return { data: { logicalKeys: [key], versions: [v1], rotations: [], history: [] }, key, v1 };
}
