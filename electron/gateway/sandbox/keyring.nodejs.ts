import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../core/atomic-file.nodejs';
import { iso, type Clock } from './clock.nodejs';
import { generateRsaKey, spkiSha256, type FieldPadding } from './rsa.nodejs';
import type { GatewayKeyRecord, StateStore } from './state.nodejs';

/**
 * The gateway's own RSA keys: one current, earlier ones accepted until their grace ends. Two
 * rings use this: the client-side encryption key (`gateway_keys`, 2048 bits) and, since contract
 * 1.1, the key-set signing key (`signing_keys`, 3072 bits), which never decrypts anything.
 * Private keys sit in `<dir>/<key_id>.pem`, 0600, and are deleted once their grace is over: a key
 * nobody may use any more should not exist.
 */

export interface KeyringSpec {
  /** Where in the state the ring's records live. */
  slot: 'gateway_keys' | 'signing_keys';
  /** Folder of the private keys, in the data dir. */
  dir: string;
  bits: number;
  /** key_id prefix. */
  prefix: string;
}

export const ENCRYPTION_KEYRING: KeyringSpec = {
  slot: 'gateway_keys',
  dir: 'gateway-keys',
  bits: 2048,
  prefix: 'gk',
};
export const SIGNING_KEYRING: KeyringSpec = {
  slot: 'signing_keys',
  dir: 'signing-keys',
  bits: 3072,
  prefix: 'sk',
};

export interface KeyView {
  key_id: string;
  pem: string;
  spki_sha256: string;
  created_at: string;
  previous: { key_id: string; spki_sha256: string; accepted_until: string }[];
}

export interface PublicKeyView extends KeyView {
  padding: FieldPadding;
}

export class RsaKeyring {
  private readonly cache = new Map<string, KeyObject>();

  constructor(
    private readonly store: StateStore,
    private readonly clock: Clock,
    private readonly spec: KeyringSpec,
    private readonly graceSeconds: number,
  ) {}

  private get keys() {
    return this.store.state[this.spec.slot];
  }

  private file(keyId: string): string {
    return join(this.store.dataDir, this.spec.dir, `${keyId}.pem`);
  }

  private async create(): Promise<GatewayKeyRecord> {
    const { privatePem } = await generateRsaKey(this.spec.bits);
    const keyId = `${this.spec.prefix}_${randomBytes(9).toString('base64url')}`;
    mkdirSync(join(this.store.dataDir, this.spec.dir), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file(keyId), privatePem, 0o600);
    const key = createPrivateKey(privatePem);
    this.cache.set(keyId, key);
    return {
      key_id: keyId,
      spki_sha256: spkiSha256(createPublicKey(key)),
      created_at: iso(this.clock()),
      accepted_until_ms: null,
    };
  }

  async ensureCurrent(): Promise<void> {
    const keys = this.keys;
    if (keys.current && existsSync(this.file(keys.current.key_id))) return;
    if (keys.current) throw new Error(`key file for ${keys.current.key_id} is missing from the data dir`);
    keys.current = await this.create();
    this.store.save();
  }

  /** The new key is made before anything moves, so a failed keygen leaves the old one current. */
  async rotate(): Promise<KeyView> {
    const keys = this.keys;
    const fresh = await this.create();
    if (keys.current) {
      keys.previous.unshift({ ...keys.current, accepted_until_ms: this.clock() + this.graceSeconds * 1000 });
    }
    keys.current = fresh;
    this.prune();
    this.store.save();
    return this.view();
  }

  private prune(): void {
    const keys = this.keys;
    const now = this.clock();
    const [keep, drop] = [
      keys.previous.filter((k) => (k.accepted_until_ms ?? 0) > now),
      keys.previous.filter((k) => (k.accepted_until_ms ?? 0) <= now),
    ];
    keys.previous = keep;
    for (const k of drop) {
      this.cache.delete(k.key_id);
      rmSync(this.file(k.key_id), { force: true });
    }
  }

  private load(keyId: string): KeyObject {
    let key = this.cache.get(keyId);
    if (!key) {
      key = createPrivateKey(readFileSync(this.file(keyId), 'utf8'));
      this.cache.set(keyId, key);
    }
    return key;
  }

  view(): KeyView {
    const current = this.keys.current;
    if (!current) throw new Error('keyring not initialised');
    const now = this.clock();
    return {
      key_id: current.key_id,
      pem: createPublicKey(this.load(current.key_id)).export({ type: 'spki', format: 'pem' }) as string,
      spki_sha256: current.spki_sha256,
      created_at: current.created_at,
      previous: this.keys.previous
        .filter((k) => (k.accepted_until_ms ?? 0) > now)
        .map((k) => ({
          key_id: k.key_id,
          spki_sha256: k.spki_sha256,
          accepted_until: iso(k.accepted_until_ms!),
        })),
    };
  }

  /** The private key for `keyId` (absent: the current one), if the gateway still accepts it. */
  accepted(keyId: string | undefined): { keyId: string; key: KeyObject } | undefined {
    const keys = this.keys;
    if (!keys.current) return undefined;
    if (keyId === undefined || keyId === keys.current.key_id) {
      return { keyId: keys.current.key_id, key: this.load(keys.current.key_id) };
    }
    const prev = keys.previous.find((k) => k.key_id === keyId);
    if (!prev || (prev.accepted_until_ms ?? 0) <= this.clock()) return undefined;
    return { keyId: prev.key_id, key: this.load(prev.key_id) };
  }
}

/** The client-side encryption key ring, which also advertises its padding. */
export class GatewayKeyring extends RsaKeyring {
  constructor(
    store: StateStore,
    clock: Clock,
    private readonly padding: FieldPadding,
    graceSeconds: number,
  ) {
    super(store, clock, ENCRYPTION_KEYRING, graceSeconds);
  }

  override async rotate(): Promise<PublicKeyView> {
    return { ...(await super.rotate()), padding: this.padding };
  }

  override view(): PublicKeyView {
    return { ...super.view(), padding: this.padding };
  }
}
