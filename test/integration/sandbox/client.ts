/**
 * An independent client of ../shared/gateway-api.md for the sandbox's own tests. It uses
 * node:crypto and node:https only, and nothing from electron/: if the sandbox and this client
 * shared code, a mistake in it would pass both sides.
 */
import {
  X509Certificate,
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  createVerify,
  generateKeyPairSync,
  privateDecrypt,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface Target {
  url: string;
  caPem: string;
  pin: string;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // Tests look into bodies freely; a wrong shape fails the assertion that reads it.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  servedPin: string;
}

export interface CallOptions {
  token?: string;
  json?: unknown;
  form?: Record<string, string>;
  rawBody?: string;
  contentType?: string;
  timeoutMs?: number;
}

export function pinOf(certDer: Buffer): string {
  const spki = new X509Certificate(certDer).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

/** One HTTPS call, trusting only the sandbox's certificate and refusing any other pin. */
export function call(
  target: Target,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Reply> {
  let payload: string | undefined;
  const headers: Record<string, string> = {};
  if (options.json !== undefined) {
    payload = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  } else if (options.form) {
    payload = new URLSearchParams(options.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (options.rawBody !== undefined) {
    payload = options.rawBody;
  }
  if (options.contentType) headers['content-type'] = options.contentType;
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const url = new URL(path, target.url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        headers,
        ca: target.caPem,
        agent: false,
        minVersion: 'TLSv1.2',
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const servedPin = pinOf((res.socket as TLSSocket).getPeerCertificate().raw);
        if (servedPin !== target.pin) {
          req.destroy(new Error('TLS pin mismatch'));
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            reject(Object.assign(new Error('response is not JSON'), { text, status: res.statusCode }));
            return;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body, servedPin });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export async function login(target: Target, username: string, password: string): Promise<string> {
  const r = await call(target, 'POST', '/oauth/token', {
    form: { grant_type: 'password', username, password },
  });
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
  return r.body.access_token as string;
}

export type Wrapping = 'RSAES-OAEP-SHA256' | 'RSAES-OAEP-SHA1';

export interface MerchantKey {
  keyId: string;
  wrapping: Wrapping;
  privateKey: KeyObject;
  publicPem: string;
  spkiSha256: string;
}

export function makeMerchantKey(keyId: string, wrapping: Wrapping, bits = 2048): MerchantKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return {
    keyId,
    wrapping,
    privateKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    spkiSha256: createHash('sha256')
      .update(publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex'),
  };
}

// --- KCVs, computed here from the definitions ---

/** Doubling in GF(2^128) as SP 800-38B defines it (subkey derivation), via BigInt. */
function dbl(block: Buffer): Buffer {
  let n = BigInt('0x' + block.toString('hex')) << 1n;
  if (n >> 128n) n = (n & ((1n << 128n) - 1n)) ^ 0x87n;
  return Buffer.from(n.toString(16).padStart(32, '0'), 'hex');
}

function aesBlock(key: Buffer, block: Buffer): Buffer {
  const c = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/**
 * CMAC of exactly one complete 16-byte block M is E(K, M xor K1), K1 = dbl(E(K, 0^128)); the
 * KCV's message is one zero block, so this is the whole algorithm for it.
 */
export function cmacOfZeroBlock(key: Buffer): Buffer {
  const k1 = dbl(aesBlock(key, Buffer.alloc(16)));
  return aesBlock(key, k1);
}

export function cmacKcv(key: Buffer): string {
  return cmacOfZeroBlock(key).subarray(0, 3).toString('hex');
}

export function hmacKcvOf(key: Buffer): string {
  return createHmac('sha256', key).update(Buffer.alloc(16)).digest().subarray(0, 3).toString('hex');
}

/** openssl reads the message from `file` (not stdin: it may exit before reading a pipe, EPIPE). */
export function opensslCmac(key: Buffer, file: string): string {
  return execFileSync('openssl', [
    'mac',
    '-cipher',
    'AES-256-CBC',
    '-macopt',
    `hexkey:${key.toString('hex')}`,
    '-in',
    file,
    'CMAC',
  ])
    .toString()
    .trim()
    .toLowerCase();
}

// --- key sets and the envelope ---

export interface IssuedSet {
  set_id: string;
  wrapping_key_id: string;
  enc_key: string;
  mac_key: string;
  iv: string;
  enc_kcv: string;
  mac_kcv: string;
  expires_at: string;
  merchant?: string;
  issued_at?: string;
  signing_key_id?: string;
  sig?: string;
}

export interface OpenSet {
  setId: string;
  encKey: Buffer;
  macKey: Buffer;
  iv: Buffer;
  issued: IssuedSet;
}

export function unwrap(key: MerchantKey, blob: string): Buffer {
  return privateDecrypt(
    {
      key: key.privateKey,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: key.wrapping === 'RSAES-OAEP-SHA1' ? 'sha1' : 'sha256',
    },
    Buffer.from(blob, 'base64'),
  );
}

/**
 * Contract 1.1: the bytes a set's `sig` covers. A set is a flat object of strings, for which RFC
 * 8785 is just the members sorted by name, without whitespace (written out here, independently
 * of the app's canonical JSON).
 */
export function setSignedBytes(issued: IssuedSet): Buffer {
  const members = Object.entries(issued)
    .filter(([name, value]) => name !== 'sig' && value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const json = `{${members.map(([n, v]) => `${JSON.stringify(n)}:${JSON.stringify(v)}`).join(',')}}`;
  return Buffer.concat([Buffer.from('mkm-keyset-1.1\n', 'ascii'), Buffer.from(json, 'utf8')]);
}

export function setSignatureValid(issued: IssuedSet, signingKeyPem: string): boolean {
  if (typeof issued.sig !== 'string') return false;
  return createVerify('sha256')
    .update(setSignedBytes(issued))
    .verify(
      { key: createPublicKey(signingKeyPem), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      Buffer.from(issued.sig, 'base64'),
    );
}

/**
 * `openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify`: whether
 * openssl accepts `sigB64` over `data` under `pem` (files in `dir`).
 */
export function opensslVerifiesPss(pem: string, sigB64: string, data: Buffer, dir: string): boolean {
  const [pemFile, sigFile, dataFile] = ['signing.pem', 'set.sig', 'set.bin'].map((n) => join(dir, n)) as [
    string,
    string,
    string,
  ];
  writeFileSync(pemFile, pem);
  writeFileSync(sigFile, Buffer.from(sigB64, 'base64'));
  writeFileSync(dataFile, data);
  try {
    const out = execFileSync(
      'openssl',
      [
        'dgst',
        '-sha256',
        '-sigopt',
        'rsa_padding_mode:pss',
        '-sigopt',
        'rsa_pss_saltlen:32',
        '-verify',
        pemFile,
        '-signature',
        sigFile,
        dataFile,
      ],
      { stdio: 'pipe' },
    ).toString();
    return /Verified OK/.test(out);
  } catch {
    return false;
  }
}

/** When set (trustSigningKey), openSet refuses a set whose signature does not verify under it. */
let trustedSigningKey: string | null = null;
export function trustSigningKey(pem: string | null): void {
  trustedSigningKey = pem;
}

/**
 * Unwraps a set and refuses it on a KCV mismatch, as the contract tells a client to; with a
 * trusted signing key, checks its signature first (contract 1.1).
 */
export function openSet(issued: IssuedSet, keys: MerchantKey[]): OpenSet {
  if (trustedSigningKey !== null && !setSignatureValid(issued, trustedSigningKey)) {
    throw new Error('key set signature invalid');
  }
  const key = keys.find((k) => k.keyId === issued.wrapping_key_id);
  if (!key) throw new Error(`set wrapped under unknown key ${issued.wrapping_key_id}`);
  const encKey = unwrap(key, issued.enc_key);
  const macKey = unwrap(key, issued.mac_key);
  if (encKey.length !== 32 || macKey.length !== 32) throw new Error('unwrapped key is not 32 bytes');
  if (cmacKcv(encKey) !== issued.enc_kcv) throw new Error('enc_kcv mismatch');
  if (hmacKcvOf(macKey) !== issued.mac_kcv) throw new Error('mac_kcv mismatch');
  const iv = Buffer.from(issued.iv, 'base64');
  if (iv.length !== 16) throw new Error('iv is not 16 bytes');
  return { setId: issued.set_id, encKey, macKey, iv, issued };
}

/** Contract 1.1: HMAC-SHA256(mac_key, dir || '.' || set_id || '.' || iv || ciphertext). */
export function mac(
  macKey: Buffer,
  setId: string,
  iv: Buffer,
  ciphertext: Buffer,
  dir: 'req' | 'rsp' = 'req',
): Buffer {
  return createHmac('sha256', macKey)
    .update(Buffer.concat([Buffer.from(`${dir}.${setId}.`, 'utf8'), iv, ciphertext]))
    .digest();
}

export function sealRequest(
  set: OpenSet,
  body: unknown,
): { set_id: string; ciphertext: string; mac: string } {
  const c = createCipheriv('aes-256-cbc', set.encKey, set.iv);
  const ciphertext = Buffer.concat([c.update(JSON.stringify(body), 'utf8'), c.final()]);
  return {
    set_id: set.setId,
    ciphertext: ciphertext.toString('base64'),
    mac: mac(set.macKey, set.setId, set.iv, ciphertext).toString('base64'),
  };
}

/** Verifies the response MAC (it covers the response's own IV), then decrypts. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function openResponse(set: OpenSet, body: any): any {
  if (body.set_id !== set.setId) throw new Error('response names another set');
  const iv = Buffer.from(body.iv, 'base64');
  const ciphertext = Buffer.from(body.ciphertext, 'base64');
  const expected = mac(set.macKey, set.setId, iv, ciphertext, 'rsp');
  const given = Buffer.from(body.mac, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new Error('response MAC invalid');
  const d = createDecipheriv('aes-256-cbc', set.encKey, iv);
  return JSON.parse(Buffer.concat([d.update(ciphertext), d.final()]).toString('utf8'));
}

export async function secure(
  target: Target,
  token: string,
  operation: string,
  set: OpenSet,
  body: unknown,
  options: Omit<CallOptions, 'token' | 'json'> = {},
): Promise<Reply> {
  return call(target, 'POST', `/v1/secure/${operation}`, { ...options, token, json: sealRequest(set, body) });
}

export async function register(target: Target, token: string, key: MerchantKey): Promise<Reply> {
  return call(target, 'POST', '/v1/encryption/merchant_keys', {
    token,
    json: { key_id: key.keyId, public_key_pem: key.publicPem, wrapping: key.wrapping },
  });
}

export async function freshSet(target: Target, token: string, keys: MerchantKey[]): Promise<OpenSet> {
  const r = await call(target, 'POST', '/v1/encryption/key_sets', { token, json: {} });
  if (r.status !== 201) throw new Error(`key_sets failed: ${r.status} ${r.text}`);
  return openSet(r.body.next_key_set, keys);
}

export const salt = (): string => randomBytes(16).toString('base64');
export const tagOf = (saltB64: string, value: string): string =>
  createHmac('sha256', Buffer.from(saltB64, 'base64')).update(value, 'utf8').digest('hex');

/** A clock the test moves by hand. */
export function manualClock(start = Date.parse('2026-01-01T00:00:00Z')) {
  let now = start;
  return {
    now: () => now,
    advance: (seconds: number) => {
      now += seconds * 1000;
    },
  };
}
