import type { DiagnosedKind, DiagnosisFinding } from '../../../shared/contract/troubleshoot.std';
import { toErrorShape } from '../../../shared/errors.std';
import { encodeBase64, parseBase64 } from '../../../shared/formats/encoding.std';
import type { CsePadding } from '../../crypto/cse.nodejs';
import { macInput } from '../../crypto/envelope.nodejs';
import { parseRsaPublicKey } from '../../crypto/pem.nodejs';
import type { CipherMechanism } from '../../../shared/tokens.std';
import {
  classify,
  clearValueFinding,
  decodeField,
  finding,
  lengthFindings,
  RSA_SIZES,
  shapeOfClear,
  sortFindings,
  wrongIvShape,
  type Classified,
  type EnvelopeToCheck,
  type Evidence,
  type FieldToCheck,
} from './analyse.std';
import type { DiagnoseEnv, ProfileFacts } from './environment.nodejs';
import type { GatewayKeyList } from './oracle.nodejs';

/**
 * The troubleshooter: classify the paste (analyse.std.ts), then check what the environment
 * allows: lengths against the pinned keys, decryption with each candidate RSA key on the token,
 * the sandbox gateway as oracle for client-side encrypted fields, a key-rolling envelope's set,
 * MAC and padding inside the token. Decrypted bytes are looked at for their shape and wiped;
 * only lengths, last 4, Luhn and the like reach a finding.
 */

export interface EngineResult {
  kind: DiagnosedKind;
  findings: DiagnosisFinding[];
  skipped: string[];
}

/** A paste with more fields than this is a batch, not a question. */
const MAX_FIELDS = 8;

const MECHANISM_PADDING: Record<'RSA_PKCS' | 'RSA_OAEP_SHA256' | 'RSA_OAEP_SHA1', string> = {
  RSA_PKCS: 'RSAES-PKCS1-V1_5',
  RSA_OAEP_SHA256: 'RSAES-OAEP-SHA256',
  RSA_OAEP_SHA1: 'RSAES-OAEP-SHA1',
};
const RSA_MECHANISMS = Object.keys(MECHANISM_PADDING) as (keyof typeof MECHANISM_PADDING)[];
const OTHER_PADDING: Record<CsePadding, CsePadding> = {
  'RSAES-PKCS1-V1_5': 'RSAES-OAEP-SHA256',
  'RSAES-OAEP-SHA256': 'RSAES-PKCS1-V1_5',
};
/** base64 length of an RSA block of each size: a decrypted value that long was encrypted twice. */
const BASE64_OF_BLOCK = new Set(RSA_SIZES.map((n) => 4 * Math.ceil(n / 3)));

const short = (fp: string) => (fp ? `${fp.slice(0, 16)}…` : 'unknown');

function at(field: FieldToCheck, evidence: Evidence): Evidence {
  return field.path === 'value' ? evidence : { field: field.path, ...evidence };
}

function withField(field: FieldToCheck, findings: DiagnosisFinding[]): DiagnosisFinding[] {
  return findings.map((f) => ({ ...f, evidence: at(field, f.evidence) }));
}

class Engine {
  readonly findings: DiagnosisFinding[] = [];
  readonly skipped: string[];
  private gatewayKeys: GatewayKeyList | null | undefined;

  constructor(private readonly env: DiagnoseEnv) {
    this.skipped = [...env.skipped];
  }

  private skip(note: string) {
    if (!this.skipped.includes(note)) this.skipped.push(note);
  }

  /** The target gateway's current and previous key ids (once per diagnosis). */
  private async listGatewayKeys(): Promise<GatewayKeyList | null> {
    if (this.gatewayKeys !== undefined) return this.gatewayKeys;
    this.gatewayKeys = null;
    if (!this.env.gateway) return null;
    try {
      this.gatewayKeys = await this.env.gateway.keys();
    } catch (error) {
      this.skip(`The gateway's key list could not be fetched: ${toErrorShape(error).message}`);
    }
    return this.gatewayKeys;
  }

  // ---------------------------------------------------------------- RSA fields

  private expectedModulus(keyId: string | null): number | null {
    const keys = this.env.target?.keys ?? [];
    const named = keyId ? keys.find((k) => k.keyId === keyId) : undefined;
    return (named ?? keys.find((k) => k.role === 'pinned') ?? keys[0])?.modulusBytes ?? null;
  }

  private candidatesFor(length: number): string[] {
    const out: string[] = [];
    for (const p of this.env.profiles) {
      for (const k of p.keys.filter((x) => x.modulusBytes === length)) {
        out.push(
          `gateway key of "${p.name}" (${k.role}${k.keyId ? `, key_id ${k.keyId}` : ''}, spki ${short(k.spkiSha256)})`,
        );
      }
    }
    for (const k of this.env.token?.rsa ?? []) {
      if (k.bits / 8 === length) {
        out.push(
          `token key "${k.label}" (id ${k.id}, spki ${short(k.spkiSha256)}${k.version ? `, ${k.version}` : ''})`,
        );
      }
    }
    return out;
  }

  async field(field: FieldToCheck, c: Classified): Promise<void> {
    const digits = field.text.replace(/[\s-]/g, '');
    if (field.path !== 'value' && /^\d{3,19}$/.test(digits)) {
      this.findings.push(clearValueFinding(field.path, digits));
      return;
    }
    const expected = this.expectedModulus(c.keyId);
    const decoded = decodeField(field.text, expected);
    this.findings.push(...withField(field, decoded.findings));
    const bytes = decoded.bytes;
    if (!bytes) return;
    const truncated = decoded.findings.some((f) => f.code === 'TRUNCATED');
    this.findings.push(...withField(field, lengthFindings(bytes.length, expected, truncated)));

    const candidates = this.candidatesFor(bytes.length);
    if (candidates.length) {
      this.findings.push(
        finding(
          'KEY_MATCH',
          at(field, {
            bytes: bytes.length,
            keyBits: bytes.length * 8,
            candidates: candidates.slice(0, 6).join('; '),
          }),
          {
            explanation: `A ${bytes.length * 8}-bit RSA key made it; these known keys have that size.`,
          },
        ),
      );
    }
    const expectedPadding = c.padding ?? this.env.target?.cse ?? null;
    const tokenDecrypted = await this.tryTokenKeys(field, bytes, expectedPadding);
    const gatewayDecrypted = await this.tryOracle(field, bytes, c, expectedPadding);

    if (!tokenDecrypted && gatewayDecrypted === false) return; // the oracle named the failure
    if (tokenDecrypted || gatewayDecrypted === true) return;
    const tried = (this.env.token?.rsa ?? []).filter((k) => k.decrypts && k.bits / 8 === bytes.length);
    const target = this.env.target;
    // A CSE profile whose key is not pinned yet may well have made it: no verdict then.
    const gatewayMayHave =
      (target?.keys ?? []).some((k) => k.modulusBytes === bytes.length) ||
      (target?.cse != null && target.keys.length === 0);
    if (tried.length > 0 && !gatewayMayHave && !truncated) {
      this.findings.push(
        finding(
          'RSA_WRONG_KEY',
          at(field, {
            bytes: bytes.length,
            keysTried: tried.map((k) => k.label).join(', '),
            paddingsTried: 3,
          }),
        ),
      );
    } else if (gatewayMayHave && !this.env.oracleAllowed) {
      this.skip(
        'Only the gateway can decrypt a field made with its public key; its length fits the pinned key.',
      );
    }
  }

  /** Each token key of the right size that may decrypt, with each padding; true when one did. */
  private async tryTokenKeys(
    field: FieldToCheck,
    bytes: Uint8Array,
    expectedPadding: string | null,
  ): Promise<boolean> {
    const token = this.env.token;
    if (!token) return false;
    const data = encodeBase64(bytes);
    for (const key of token.rsa.filter((k) => k.decrypts && k.bits / 8 === bytes.length)) {
      for (const mechanism of RSA_MECHANISMS) {
        let clear: Buffer;
        try {
          const result = await this.env.tokens.call('decrypt', {
            slotId: token.slotId,
            id: key.id,
            mechanism: mechanism as CipherMechanism,
            data,
          });
          clear = Buffer.from(result.data, 'base64');
        } catch (error) {
          const code = toErrorShape(error).code;
          if (code === 'NOT_LOGGED_IN' || code === 'TOKEN_REMOVED' || code === 'TOKEN_CONNECTION_LOST') {
            this.skip(`Token key "${key.label}" could not be tried: ${toErrorShape(error).message}`);
            return false;
          }
          continue;
        }
        const shape = shapeOfClear(clear);
        clear.fill(0);
        const padding = MECHANISM_PADDING[mechanism];
        const evidence = at(field, {
          keyId: key.id,
          keyLabel: key.label,
          ...(key.version ? { keyVersion: key.version } : {}),
          padding,
          ...shape.evidence,
        });
        if (shape.base64Bytes !== null && (RSA_SIZES as readonly number[]).includes(shape.base64Bytes)) {
          this.findings.push(finding('DOUBLE_ENCRYPTED', evidence));
        } else if (expectedPadding && expectedPadding !== padding) {
          this.findings.push(finding('RSA_WRONG_PADDING', { ...evidence, expectedPadding }));
        }
        this.findings.push(
          finding('DECRYPTED', evidence, {
            explanation: `Token key "${key.label}" decrypts it with ${padding}. What it holds is described by its shape only.`,
          }),
        );
        return true;
      }
    }
    return false;
  }

  /**
   * The sandbox's verify endpoint: current key with the expected padding, then each previous
   * key, then the other padding. Returns true (decrypts as expected), false (a failure row was
   * added) or null (not asked).
   */
  private async tryOracle(
    field: FieldToCheck,
    bytes: Uint8Array,
    c: Classified,
    expectedPadding: CsePadding | null,
  ): Promise<boolean | null> {
    const oracle = this.env.gateway;
    if (!oracle || !this.env.oracleAllowed) return null;
    if (!(RSA_SIZES as readonly number[]).includes(bytes.length)) return null;
    const keys = await this.listGatewayKeys();
    if (!keys) return null;
    const padding = expectedPadding ?? keys.current.padding;
    const name = field.cseName ?? 'encrypted_number';
    const data = encodeBase64(bytes);
    try {
      const describe = (v: {
        length?: number | undefined;
        last4?: string | undefined;
        luhnOk?: boolean | undefined;
        abaOk?: boolean | undefined;
      }) => ({
        ...(v.length !== undefined ? { length: v.length } : {}),
        ...(v.last4 !== undefined ? { last4: v.last4 } : {}),
        ...(v.luhnOk !== undefined ? { luhnOk: v.luhnOk } : {}),
        ...(v.abaOk !== undefined ? { abaOk: v.abaOk } : {}),
      });
      const twice = (v: { length?: number | undefined }) =>
        v.length !== undefined && BASE64_OF_BLOCK.has(v.length);
      const current = await oracle.verify(name, data, padding);
      if (current.decrypted) {
        const evidence = at(field, { keyId: keys.current.keyId, padding, ...describe(current) });
        if (twice(current)) {
          this.findings.push(finding('DOUBLE_ENCRYPTED', evidence));
          return false;
        }
        this.findings.push(
          finding('GATEWAY_DECRYPTS', evidence, {
            explanation: `The sandbox gateway decrypts it under its current key (${keys.current.keyId}) with ${padding}.`,
          }),
        );
        return true;
      }
      for (const previous of keys.previous) {
        if (Date.parse(previous.acceptedUntil) <= this.env.now) continue;
        const v = await oracle.verify(name, data, padding, previous.keyId);
        if (v.decrypted) {
          this.findings.push(
            finding(
              'CSE_PREVIOUS_KEY',
              at(field, {
                keyId: previous.keyId,
                acceptedUntil: previous.acceptedUntil,
                currentKeyId: keys.current.keyId,
                padding,
                ...describe(v),
              }),
            ),
          );
          return false;
        }
      }
      const other = OTHER_PADDING[padding];
      const v = await oracle.verify(name, data, other);
      if (v.decrypted) {
        this.findings.push(
          finding(
            'RSA_WRONG_PADDING',
            at(field, {
              keyId: keys.current.keyId,
              expectedPadding: padding,
              padding: other,
              ...describe(v),
            }),
          ),
        );
        return false;
      }
      this.findings.push(
        finding(
          'CSE_NOT_GATEWAY_KEY',
          at(field, {
            bytes: bytes.length,
            keyIdsTried: [keys.current.keyId, ...keys.previous.map((p) => p.keyId)].join(', '),
            paddingsTried: `${padding}, ${other}`,
          }),
        ),
      );
      return false;
    } catch (error) {
      this.skip(`The sandbox gateway could not be asked: ${toErrorShape(error).message}`);
      return null;
    }
  }

  // ---------------------------------------------------------------- public keys

  async publicKey(text: string): Promise<void> {
    let spki: string;
    let bits: number;
    try {
      const parsed = parseRsaPublicKey(text, { minBits: 0 });
      spki = parsed.spkiSha256;
      bits = parsed.modulusBits;
    } catch (error) {
      const shape = toErrorShape(error);
      if (shape.code === 'PRIVATE_KEY_REFUSED')
        this.findings.push(finding('PEM_PRIVATE_KEY', { format: 'PEM' }));
      else this.findings.push(finding('UNRECOGNISED', { reason: shape.message.slice(0, 160) }));
      return;
    }
    const base = { spkiSha256: spki, bits };
    const target = this.env.target;
    const owner = (p: ProfileFacts) => p.keys.find((k) => k.spkiSha256 === spki);
    const tokenKey = this.env.token?.rsa.find((k) => k.spkiSha256 === spki);
    if (tokenKey) {
      this.findings.push(
        finding(
          'KEY_MATCH',
          { ...base, tokenKeyId: tokenKey.id, tokenKeyLabel: tokenKey.label },
          {
            explanation: `This is the public half of token key "${tokenKey.label}".`,
          },
        ),
      );
    }
    if (target) {
      const mine = owner(target);
      if (mine) {
        this.findings.push(
          finding(
            'PEM_KNOWN',
            { ...base, profile: target.id, role: mine.role, keyId: mine.keyId },
            {
              explanation: `This is the ${mine.role} gateway key of "${target.name}".`,
            },
          ),
        );
        return;
      }
      const keys = await this.listGatewayKeys();
      const previous = keys?.previous.find((p) => p.spkiSha256 === spki);
      if (previous) {
        this.findings.push(
          finding('PEM_PREVIOUS_KEY', {
            ...base,
            profile: target.id,
            keyId: previous.keyId,
            acceptedUntil: previous.acceptedUntil,
            currentKeyId: keys!.current.keyId,
          }),
        );
        return;
      }
      if (keys && keys.current.spkiSha256 === spki) {
        this.findings.push(
          finding('PEM_KNOWN', { ...base, profile: target.id, role: 'served', keyId: keys.current.keyId }),
        );
        return;
      }
    }
    const elsewhere = this.env.profiles.filter((p) => p.id !== target?.id && owner(p));
    if (elsewhere.length && target) {
      const other = elsewhere[0]!;
      this.findings.push(
        finding('PEM_WRONG_ENVIRONMENT', {
          ...base,
          belongsTo: other.id,
          belongsToUrl: other.baseUrl,
          targeted: target.id,
          targetedUrl: target.baseUrl,
          targetKey: target.keys[0] ? short(target.keys[0].spkiSha256) : null,
        }),
      );
      return;
    }
    if (elsewhere.length) {
      const other = elsewhere[0]!;
      this.findings.push(
        finding('PEM_KNOWN', {
          ...base,
          profile: other.id,
          role: owner(other)!.role,
          keyId: owner(other)!.keyId,
        }),
      );
      return;
    }
    if (!tokenKey)
      this.findings.push(finding('PEM_UNKNOWN_KEY', { ...base, profilesCompared: this.env.profiles.length }));
  }

  // ---------------------------------------------------------------- envelopes

  async envelope(e: EnvelopeToCheck): Promise<void> {
    const problems: string[] = [];
    const setId = typeof e.setId === 'string' && e.setId.length > 0 && e.setId.length <= 128 ? e.setId : null;
    if (!setId) problems.push('set_id is missing or not a string');
    const part = (name: string, value: unknown): Uint8Array | null => {
      if (typeof value !== 'string') {
        problems.push(`${name} is missing or not a string`);
        return null;
      }
      const decoded = decodeField(value, null);
      this.findings.push(
        ...decoded.findings.map((f) => ({ ...f, evidence: { field: name, ...f.evidence } })),
      );
      return decoded.bytes;
    };
    const ciphertext = part('ciphertext', e.ciphertext);
    const mac = part('mac', e.mac);
    const iv = e.iv !== undefined ? part('iv', e.iv) : null;
    if (ciphertext && (ciphertext.length === 0 || ciphertext.length % 16 !== 0)) {
      problems.push(`ciphertext is ${ciphertext.length} bytes, not a whole number of 16-byte blocks`);
    }
    if (mac && mac.length !== 32) problems.push(`mac is ${mac.length} bytes, HMAC-SHA256 gives 32`);
    if (iv && iv.length !== 16) problems.push(`iv is ${iv.length} bytes, AES-CBC needs 16`);
    if (problems.length) this.findings.push(finding('ENVELOPE_MALFORMED', { problems: problems.join('; ') }));
    if (!setId) return;

    const profiles = this.env.target ? [this.env.target] : this.env.profiles;
    const used = profiles.find((p) => p.usedSetIds.includes(setId));
    const current = profiles.find((p) => p.keySet?.setId === setId);
    if (used) {
      this.findings.push(finding('ENVELOPE_SET_USED', { setId, profile: used.id }));
      return;
    }
    if (!current) {
      this.findings.push(
        finding('ENVELOPE_SET_UNKNOWN', { setId, profilesSearched: profiles.map((p) => p.id).join(', ') }),
      );
      return;
    }
    const set = current.keySet!;
    if (Date.parse(set.expiresAt) <= this.env.now) {
      this.findings.push(
        finding('ENVELOPE_SET_EXPIRED', { setId, profile: current.id, expiredAt: set.expiresAt }),
      );
      return;
    }
    const token = this.env.token;
    if (!token || !token.secretIds.has(set.encKeyId) || !token.secretIds.has(set.macKeyId)) {
      this.skip(
        `The keys of set ${setId} are not in the logged-in token (they live only in the session that unwrapped them).`,
      );
      return;
    }
    const keyInfo: Evidence = {
      setId,
      profile: current.id,
      wrappingKeyId: set.wrappingKeyId,
      expiresAt: set.expiresAt,
    };
    try {
      const [enc, macKcv] = await Promise.all([
        this.env.tokens.call('kcv', { slotId: token.slotId, id: set.encKeyId }),
        this.env.tokens.call('kcv', { slotId: token.slotId, id: set.macKeyId }),
      ]);
      keyInfo.encKcv = `${enc.kcv} (${enc.method})`;
      keyInfo.macKcv = `${macKcv.kcv} (${macKcv.method})`;
    } catch {
      /* KCVs are context only */
    }
    this.findings.push(
      finding('KEY_MATCH', keyInfo, {
        explanation: `Set ${setId} is the current key set; its keys are in the token.`,
      }),
    );
    if (problems.length || !ciphertext || !mac) return;
    const ivBytes =
      iv ?? (parseBase64(set.iv).ok ? (parseBase64(set.iv) as { bytes: Uint8Array }).bytes : null);
    if (!ivBytes) return;
    const verified = await this.env.tokens.call('hmacVerify', {
      slotId: token.slotId,
      id: set.macKeyId,
      data: macInput('req', setId, ivBytes, ciphertext).toString('base64'),
      mac: encodeBase64(mac),
    });
    if (!verified.valid) {
      this.findings.push(
        finding('ENVELOPE_MAC_INVALID', {
          setId,
          ivFrom: iv ? 'message' : 'key set',
          ciphertextBytes: ciphertext.length,
        }),
      );
      return;
    }
    let clear: Buffer;
    try {
      const result = await this.env.tokens.call('decrypt', {
        slotId: token.slotId,
        id: set.encKeyId,
        mechanism: 'AES_CBC_PAD',
        iv: encodeBase64(ivBytes),
        data: encodeBase64(ciphertext),
      });
      clear = Buffer.from(result.data, 'base64');
    } catch (error) {
      this.findings.push(
        finding('ENVELOPE_PADDING', { setId, macOk: true, token: toErrorShape(error).code }),
      );
      return;
    }
    const shape = shapeOfClear(clear);
    const wrongIv = !shape.readable && wrongIvShape(clear);
    clear.fill(0);
    if (wrongIv) {
      this.findings.push(
        finding('ENVELOPE_WRONG_IV', { setId, macOk: true, firstBlockReadable: false, restReadable: true }),
      );
      return;
    }
    this.findings.push(
      finding(
        'ENVELOPE_OK',
        { setId, macOk: true, ...shape.evidence },
        { explanation: 'The MAC verifies and the message decrypts in the token.' },
      ),
    );
  }
}

export async function runDiagnosis(input: string, env: DiagnoseEnv): Promise<EngineResult> {
  const c = classify(input);
  const engine = new Engine(env);
  engine.findings.push(...c.findings);
  if (c.publicKey !== null) await engine.publicKey(c.publicKey);
  if (c.envelope) await engine.envelope(c.envelope);
  for (const field of c.fields.slice(0, MAX_FIELDS)) await engine.field(field, c);
  if (c.fields.length > MAX_FIELDS)
    engine.findings.push(finding('KIND', { fields: c.fields.length, checked: MAX_FIELDS }));
  return { kind: c.kind, findings: sortFindings(engine.findings), skipped: engine.skipped };
}
