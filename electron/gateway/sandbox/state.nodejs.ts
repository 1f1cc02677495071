import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../core/atomic-file.nodejs';

/**
 * Everything the sandbox must remember across a restart, in one JSON document rewritten
 * atomically after each change. OAuth tokens are deliberately not here: a restart logs clients
 * out, which is what a real gateway's restart or failover can do too, and a token on disk is
 * one more secret at rest. Gateway private keys live in their own 0600 files next to it.
 */

const WrappingSchema = z.enum(['RSAES-OAEP-SHA256', 'RSAES-OAEP-SHA1']);

const UserSchema = z.object({
  name: z.string(),
  // scrypt$N$r$p$salt_b64$hash_b64
  password_hash: z.string(),
  created_at: z.string(),
});

const GatewayKeySchema = z.object({
  key_id: z.string(),
  spki_sha256: z.string(),
  created_at: z.string(),
  // Set when a rotation moved the key to `previous`.
  accepted_until_ms: z.number().nullable(),
});

const MerchantKeySchema = z.object({
  owner: z.string(),
  key_id: z.string(),
  public_key_pem: z.string(),
  spki_sha256: z.string(),
  wrapping: WrappingSchema,
  status: z.enum(['active', 'retired']),
  registered_at: z.string(),
  retired_at: z.string().nullable(),
  // Registration order; timestamps can tie under an injected clock.
  seq: z.number(),
});

const KeySetSchema = z.object({
  set_id: z.string(),
  owner: z.string(),
  wrapping_key_id: z.string(),
  // Clear keys (base64) until the set is used or expires; null afterwards. The sandbox holds
  // them at rest because it must answer a set issued before a restart.
  enc_key: z.string().nullable(),
  mac_key: z.string().nullable(),
  iv: z.string(),
  // The body as issued, kept so that the replay_set fault can hand out exactly that again.
  issued: z.object({
    set_id: z.string(),
    wrapping_key_id: z.string(),
    enc_key: z.string(),
    mac_key: z.string(),
    iv: z.string(),
    enc_kcv: z.string(),
    mac_kcv: z.string(),
    expires_at: z.string(),
    // Contract 1.1 (absent from sets issued by a 1.0 sandbox before an upgrade).
    merchant: z.string().optional(),
    issued_at: z.string().optional(),
    signing_key_id: z.string().optional(),
    sig: z.string().optional(),
  }),
  issued_at_ms: z.number(),
  expires_at_ms: z.number(),
  used_at_ms: z.number().nullable(),
});

const StateSchema = z.object({
  version: z.literal(1),
  seq: z.number(),
  users: z.record(z.string(), UserSchema),
  gateway_keys: z.object({ current: GatewayKeySchema.nullable(), previous: z.array(GatewayKeySchema) }),
  // Contract 1.1's key-set signing key; a state file from a 1.0 sandbox has none yet.
  signing_keys: z
    .object({ current: GatewayKeySchema.nullable(), previous: z.array(GatewayKeySchema) })
    .default({ current: null, previous: [] }),
  merchant_keys: z.array(MerchantKeySchema),
  key_sets: z.record(z.string(), KeySetSchema),
});

export type UserRecord = z.infer<typeof UserSchema>;
export type GatewayKeyRecord = z.infer<typeof GatewayKeySchema>;
export type MerchantKeyRecord = z.infer<typeof MerchantKeySchema>;
export type KeySetRecord = z.infer<typeof KeySetSchema>;
export type IssuedKeySet = KeySetRecord['issued'];
export type SandboxState = z.infer<typeof StateSchema>;

export const STATE_FILE = 'state.json';

export function emptyState(): SandboxState {
  return {
    version: 1,
    seq: 0,
    users: {},
    gateway_keys: { current: null, previous: [] },
    signing_keys: { current: null, previous: [] },
    merchant_keys: [],
    key_sets: {},
  };
}

export class StateStore {
  readonly dataDir: string;
  readonly state: SandboxState;

  private constructor(dataDir: string, state: SandboxState) {
    this.dataDir = dataDir;
    this.state = state;
  }

  /**
   * A damaged state file stops the start rather than being replaced: silently starting empty
   * would throw away the merchant keys and sets that clients still hold.
   */
  static open(dataDir: string): StateStore {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const file = join(dataDir, STATE_FILE);
    if (!existsSync(file)) {
      const store = new StateStore(dataDir, emptyState());
      store.save();
      return store;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      throw new Error(`sandbox state ${file} is not valid JSON; move it away to start fresh`);
    }
    const result = StateSchema.safeParse(parsed);
    if (!result.success)
      throw new Error(`sandbox state ${file} has an unexpected shape; move it away to start fresh`);
    return new StateStore(dataDir, result.data);
  }

  nextSeq(): number {
    this.state.seq += 1;
    return this.state.seq;
  }

  /** Synchronous on purpose: a change is on disk before the response that reports it leaves. */
  save(): void {
    writeFileAtomic(join(this.dataDir, STATE_FILE), JSON.stringify(this.state, null, 1) + '\n');
  }
}
