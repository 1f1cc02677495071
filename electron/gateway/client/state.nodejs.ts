import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { MkmError } from '../../../shared/errors.std';
import { issueLines } from '../../../shared/formats/schemas.std';
import type { StateSeals } from '../../audit/state-seal.nodejs';
import { writeFileAtomic } from '../../core/atomic-file.nodejs';

/**
 * What the gateway client remembers between runs, per profile, in one small JSON file
 * (`gateway-<profileId>.json` in the given folder, mode 0600, rewritten atomically: temp file,
 * fsync, rename, fsync of the folder). It never holds key material: public keys and
 * fingerprints (the encryption key and, since contract 1.1, the key-set signing key), merchant
 * key registrations, the ids of the session objects of the current key
 * set (so a restarted client can destroy leftovers) and the ids of sets already used (so a
 * replayed set is refused before it is unwrapped).
 */

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * Who compared a pinned key's fingerprint with the one the gateway's operator read out, and
 * when (issue 15 point 5). Absent: pinned on first sight, unconfirmed. Part of the sealed file.
 */
const PinConfirmationSchema = z.object({
  by: z.string().min(1).max(128),
  role: z.string().max(128).nullable(),
  at: z.string(),
});
export type PinConfirmation = z.infer<typeof PinConfirmationSchema>;

const GatewayKeyRecordSchema = z.object({
  /** The gateway's key_id; null for a PEM imported by hand. */
  keyId: z.string().nullable(),
  spkiSha256: sha256Hex,
  pem: z.string(),
  padding: z.enum(['RSAES-PKCS1-V1_5', 'RSAES-OAEP-SHA256']),
  source: z.enum(['fetched', 'imported']),
  /** When this client first saw it. */
  seenAt: z.string(),
  confirmed: PinConfirmationSchema.optional(),
});
export type GatewayKeyRecord = z.infer<typeof GatewayKeyRecordSchema>;

/**
 * The gateway's key-set signing key (contract 1.1), pinned like the encryption key. `previous`
 * holds keys an admin replaced by confirming a rotation, with the `accepted_until` the gateway
 * stated for them: sets they signed are accepted until then, never after.
 */
const SigningKeyRecordSchema = z.object({
  /** The gateway's key_id; null for a PEM imported by hand. */
  keyId: z.string().nullable(),
  spkiSha256: sha256Hex,
  pem: z.string(),
  source: z.enum(['fetched', 'imported']),
  seenAt: z.string(),
  confirmed: PinConfirmationSchema.optional(),
});
export type SigningKeyRecord = z.infer<typeof SigningKeyRecordSchema>;

const SigningKeyStateSchema = z.object({
  pinned: SigningKeyRecordSchema.nullable(),
  pending: SigningKeyRecordSchema.nullable(),
  previous: z.array(SigningKeyRecordSchema.extend({ acceptedUntil: z.string() })),
});

const MerchantKeyRecordSchema = z.object({
  /** key_id at the gateway = the token key's CKA_ID (hex). */
  keyId: z.string(),
  label: z.string(),
  spkiSha256: sha256Hex,
  wrapping: z.enum(['RSAES-OAEP-SHA256', 'RSAES-OAEP-SHA1']),
  modulusBytes: z.number().int().positive(),
  registeredAt: z.string(),
  status: z.enum(['active', 'retired']),
  retiredAt: z.string().nullable(),
  /**
   * The lifecycle's logical key and version this token key is, when it is a managed key: how a
   * profile is linked to a logical key, so a rotation registers the next version here too.
   */
  logicalKeyId: z.string().max(64).optional(),
  versionId: z.string().max(64).optional(),
});
export type MerchantKeyRecord = z.infer<typeof MerchantKeyRecordSchema>;

const KeySetRecordSchema = z.object({
  setId: z.string(),
  wrappingKeyId: z.string(),
  /** base64 */
  iv: z.string(),
  expiresAt: z.string(),
  /** CKA_IDs of the session objects on the token. */
  encKeyId: z.string(),
  macKeyId: z.string(),
});
export type KeySetRecord = z.infer<typeof KeySetRecordSchema>;

const StateSchema = z.object({
  version: z.literal(1),
  gatewayKey: z.object({
    pinned: GatewayKeyRecordSchema.nullable(),
    pending: GatewayKeyRecordSchema.nullable(),
  }),
  /** Absent from a file written before contract 1.1: nothing pinned yet. */
  signingKey: SigningKeyStateSchema.default({ pinned: null, pending: null, previous: [] }),
  merchantKeys: z.array(MerchantKeyRecordSchema),
  /** The set installed in the token by the last process; its session objects die with the host. */
  keySet: KeySetRecordSchema.nullable(),
  /** Newest last, bounded. */
  usedSetIds: z.array(z.string()),
});
export type GatewayClientState = z.output<typeof StateSchema>;

const USED_SET_MEMORY = 512;

export function emptyState(): GatewayClientState {
  return {
    version: 1,
    gatewayKey: { pinned: null, pending: null },
    signingKey: { pinned: null, pending: null, previous: [] },
    merchantKeys: [],
    keySet: null,
    usedSetIds: [],
  };
}

/** The file a profile's client state lives in, inside the gateway folder (DataPaths.gateway). */
export const gatewayStateFile = (dir: string, profileId: string): string =>
  join(dir, `gateway-${profileId}.json`);

export class GatewayStateStore {
  readonly file: string;
  private current: GatewayClientState;

  /** `seals`: the app's (a store apart from an app passes its own `new StateSeals()`). */
  constructor(
    dir: string,
    profileId: string,
    private readonly seals: StateSeals,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = gatewayStateFile(dir, profileId);
    this.current = this.read();
  }

  private read(): GatewayClientState {
    if (!existsSync(this.file)) return emptyState();
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch {
      throw new MkmError('STORE_CORRUPT', 'The gateway state file is not valid JSON.', { file: this.file });
    }
    const parsed = StateSchema.safeParse(json);
    if (!parsed.success) {
      // A damaged pin record must not be silently replaced: that would re-pin whatever comes next.
      throw new MkmError('STORE_CORRUPT', 'The gateway state file is damaged.', {
        file: this.file,
        issues: issueLines(parsed.error),
      });
    }
    return parsed.data;
  }

  get state(): Readonly<GatewayClientState> {
    return this.current;
  }

  /** Change a copy and write it; the in-memory state changes only when the write succeeded. */
  update(change: (draft: GatewayClientState) => void): GatewayClientState {
    const draft = structuredClone(this.current);
    change(draft);
    if (draft.usedSetIds.length > USED_SET_MEMORY) {
      draft.usedSetIds = draft.usedSetIds.slice(-USED_SET_MEMORY);
    }
    const valid = StateSchema.parse(draft);
    try {
      writeFileAtomic(this.file, JSON.stringify(valid, null, 2) + '\n');
    } catch (error) {
      throw new MkmError('IO_ERROR', 'The gateway state file could not be written.', {
        file: this.file,
        reason: (error as { code?: string }).code ?? 'unknown',
      });
    }
    // Sealed with the token's audit key (in the background): a swapped pin is refused at use.
    this.seals.written(this.file);
    this.current = valid;
    return valid;
  }

  /** Resolves while the token's seal vouches for the file; STATE_TAMPERED / STATE_UNCHECKED else. */
  check(what: string): Promise<void> {
    return this.seals.check(this.file, what);
  }
}

/**
 * Opens each profile's client state in the gateway folder (DataPaths.gateway). The composition
 * root builds the one instance and hands it to GatewayService, which hands each GatewayClient its
 * store and reads state for the console, exchange, support and diagnosis: no other code opens it.
 * Every open reads the file afresh.
 */
export class GatewayStates {
  constructor(
    readonly dir: string,
    readonly seals: StateSeals,
  ) {}

  open(profileId: string): GatewayStateStore {
    return new GatewayStateStore(this.dir, profileId, this.seals);
  }

  /** The file a profile's state lives in (the token's seal vouches for it, see GatewayStateStore.check). */
  file(profileId: string): string {
    return gatewayStateFile(this.dir, profileId);
  }
}
