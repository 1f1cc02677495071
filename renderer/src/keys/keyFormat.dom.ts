import type { KeyPurpose, KeyType, ObjectInfo } from '../../../shared/tokens.std';
import { keyTypeText } from '../../../shared/wording.std';

export const CLASS_NAMES: Record<ObjectInfo['class'], string> = {
  secret: 'Secret key',
  private: 'Private key',
  public: 'Public key',
  certificate: 'Certificate',
  data: 'Data',
  other: 'Other',
};

export function typeText(o: Pick<ObjectInfo, 'keyType' | 'bits'>): string {
  return keyTypeText(o.keyType, o.bits);
}

export const KEY_TYPES: { value: KeyType; label: string; purposes: KeyPurpose[]; slow?: boolean }[] = [
  { value: 'aes-256', label: 'AES-256 (secret key)', purposes: ['data', 'kek'] },
  { value: 'hmac-256', label: 'HMAC-SHA256 (secret key)', purposes: ['hmac', 'audit'] },
  {
    value: 'rsa-2048',
    label: 'RSA-2048 (key pair)',
    purposes: ['gateway-transport', 'signing', 'encryption'],
    slow: true,
  },
  {
    value: 'rsa-3072',
    label: 'RSA-3072 (key pair)',
    purposes: ['gateway-transport', 'signing', 'encryption'],
    slow: true,
  },
  {
    value: 'rsa-4096',
    label: 'RSA-4096 (key pair)',
    purposes: ['gateway-transport', 'signing', 'encryption'],
    slow: true,
  },
];

export const PURPOSES: Record<KeyPurpose, { label: string; allows: string }> = {
  'gateway-transport': {
    label: 'Gateway transport',
    allows:
      'The gateway wraps session keys under the public key; the private key only unwraps them inside the token, so they never leave it in clear. It cannot sign or decrypt.',
  },
  signing: {
    label: 'Signing',
    allows:
      'The private key signs certificate requests and statements; the public key verifies. It cannot decrypt.',
  },
  encryption: {
    label: 'Encryption (testing)',
    allows:
      'The public key encrypts and the private key decrypts, for testing and troubleshooting. Not for gateway key exchange.',
  },
  data: { label: 'Data encryption', allows: 'Encrypts and decrypts messages. It cannot wrap other keys.' },
  kek: {
    label: 'Key encryption (KEK)',
    allows:
      'Wraps and unwraps other keys, e.g. to back them up to a second token. It cannot encrypt messages.',
  },
  hmac: { label: 'Message authentication', allows: 'Signs and verifies messages with HMAC-SHA256.' },
  audit: {
    label: 'Audit log sealing',
    allows: 'Signs and verifies the entries of the audit log with HMAC-SHA256.',
  },
};

/** A fingerprint in colon-separated byte pairs, grouped for reading aloud. */
export function fingerprintText(hex: string): string {
  return (hex.match(/.{2}/g) ?? []).join(':').toUpperCase();
}

export function keyRowId(o: Pick<ObjectInfo, 'id' | 'class'>): string {
  return `key-${o.class}-${o.id || 'noid'}`;
}

export function sameObject(
  a: Pick<ObjectInfo, 'id' | 'class'> | null,
  b: Pick<ObjectInfo, 'id' | 'class'> | null,
) {
  return !!a && !!b && a.id === b.id && a.class === b.class;
}

/** The HMAC key the app makes on the token to seal its audit log (AUDIT_KEY_LABEL in main). */
export const AUDIT_KEY_LABEL = 'mkm-audit-key';
export const AUDIT_KEY_NOTE =
  'Merchant Key Manager seals its audit log with this key. Destroying it leaves the entries sealed so far unverifiable.';
