import { MkmError } from '../../errors.std';
import { encodeHex } from '../encoding.std';
import type { CipherFamily, Kbpk, KeyBlockCrypto } from './crypto.std';
import { checkKbpk, derivationFor } from './derive.std';
import { blockSizeOf, type Algorithm, type SupportedVersion } from './fields.std';
import { buildHeader, kcvBlocksOf, parseHeader, type HeaderFields, type KeyBlockHeader } from './header.std';
import { kcvBlockData, kcvLength, type KcvMethod, type OptionalBlock } from './optional-blocks.std';

/**
 * Wrapping and unwrapping a key in a TR-31 key block, versions D (X9.143, AES) and B
 * (TR-31:2018, TDES). Both bind the key by derivation: the KBPK yields a block encryption
 * key (KBEK) and a block MAC key (KBAK); the clear key data is
 *   key length in bits (2 bytes) | key | padding (random, to the cipher block size, or more
 *   to hide the key's size),
 * the MAC is a CMAC under KBAK over the header's characters and that clear key data, and the
 * key data is encrypted in CBC under KBEK with the MAC as IV. The block is
 *   header | hex(encrypted key data) | hex(MAC), hex in uppercase only: a case change is a
 * changed block, so it is refused rather than read as the same bytes.
 */

export interface WrapRequest {
  header: HeaderFields & { version: SupportedVersion };
  /** The clear key; the caller wipes it. */
  key: Uint8Array;
  /** Pad as if the key had this many bytes, so the block does not tell the key's size. */
  maskedKeyLength?: number;
  /** Add KC (this key's) and KP (the KBPK's) check value blocks, by this method. */
  kcv?: { KC?: KcvMethod; KP?: KcvMethod };
}

export interface UnwrappedKey {
  header: KeyBlockHeader;
  /** The clear key; the caller wipes it once the token holds it. */
  key: Uint8Array;
  /** The check value blocks that were present and matched. */
  checkedKcvs: ('KC' | 'KP')[];
}

const MAC_LENGTH: Record<SupportedVersion, number> = { B: 8, D: 16 };
const UPPER_HEX = /^[0-9A-F]*$/;

function fixedLengths(algorithm: Algorithm): readonly number[] | null {
  switch (algorithm) {
    case 'A':
      return [16, 24, 32];
    case 'T':
      return [16, 24];
    case 'D':
      return [8];
    default:
      // HMAC keys and DER-encoded asymmetric keys have no fixed sizes.
      return null;
  }
}

function checkKeyLength(algorithm: Algorithm, length: number): void {
  const allowed = fixedLengths(algorithm);
  if (length < 1 || (allowed !== null && !allowed.includes(length))) {
    throw new MkmError('TR31_KEY_LENGTH_INVALID', undefined, { algorithm, length });
  }
}

function familyOfKey(algorithm: Algorithm): CipherFamily | null {
  if (algorithm === 'A') return 'aes';
  if (algorithm === 'T') return 'tdes';
  return null;
}

/** Legacy (X9.24-1: encrypt a zero block, keep 3 bytes) or CMAC (CMAC of a zero block, keep 5). */
async function keyCheckValue<K>(
  crypto: KeyBlockCrypto<K>,
  key: K,
  family: CipherFamily,
  method: KcvMethod,
): Promise<Uint8Array> {
  const zero = new Uint8Array(family === 'aes' ? 16 : 8);
  const full = method === 'legacy' ? await crypto.cbcEncrypt(key, zero, zero) : await crypto.cmac(key, zero);
  return full.slice(0, kcvLength(method));
}

function toHex(bytes: Uint8Array): string {
  return encodeHex(bytes).toUpperCase();
}

function fromHex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function ascii(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Compares without stopping at the first difference, so timing does not tell how much matched. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Runs `use` with a key this codec made (derived or imported), then has the crypto destroy it. */
async function using<K, T>(crypto: KeyBlockCrypto<K>, key: K, use: (key: K) => Promise<T>): Promise<T> {
  try {
    return await use(key);
  } finally {
    await crypto.dispose(key);
  }
}

/** The block encryption key and block MAC key, for the time of one wrap or unwrap. */
async function withBlockKeys<K, T>(
  crypto: KeyBlockCrypto<K>,
  version: SupportedVersion,
  kbpk: Kbpk<K>,
  use: (kbek: K, kbak: K) => Promise<T>,
): Promise<T> {
  const kbek = await crypto.deriveKey(kbpk.key, derivationFor(version, kbpk, 'encryption'));
  return using(crypto, kbek, async () => {
    const kbak = await crypto.deriveKey(kbpk.key, derivationFor(version, kbpk, 'mac'));
    return using(crypto, kbak, () => use(kbek, kbak));
  });
}

async function mac<K>(
  crypto: KeyBlockCrypto<K>,
  kbak: K,
  headerText: string,
  clear: Uint8Array,
  length: number,
) {
  const full = await crypto.cmac(kbak, concat(ascii(headerText), clear));
  return full.slice(0, length);
}

export async function wrapKeyBlock<K>(
  crypto: KeyBlockCrypto<K>,
  kbpk: Kbpk<K>,
  request: WrapRequest,
): Promise<string> {
  const { version } = request.header;
  checkKbpk(version, kbpk);
  checkKeyLength(request.header.algorithm, request.key.length);
  const masking = request.maskedKeyLength ?? 0;
  // The key length field holds bits in two bytes; a masked length is a whole number of bytes.
  if (request.key.length > 0x1fff || !Number.isInteger(masking) || masking < 0 || masking > 0x1fff) {
    throw new MkmError('TR31_KEY_LENGTH_INVALID', undefined, { length: request.key.length, masked: masking });
  }
  const size = blockSizeOf(version);
  const masked = Math.max(request.key.length, masking);
  const dataLength = Math.ceil((2 + masked) / size) * size;
  const padLength = dataLength - 2 - request.key.length;

  const optional: OptionalBlock[] = [...(request.header.optionalBlocks ?? [])];
  if (request.kcv?.KC) {
    const family = familyOfKey(request.header.algorithm);
    if (family === null) throw new MkmError('TR31_KCV_UNSUPPORTED', undefined, { block: 'KC' });
    const method = request.kcv.KC;
    const handle = await crypto.importKey(family, request.key);
    const kcv = await using(crypto, handle, (h) => keyCheckValue(crypto, h, family, method));
    optional.push({ id: 'KC', data: kcvBlockData(method, kcv) });
  }
  if (request.kcv?.KP) {
    const kcv = await keyCheckValue(crypto, kbpk.key, kbpk.family, request.kcv.KP);
    optional.push({ id: 'KP', data: kcvBlockData(request.kcv.KP, kcv) });
  }
  const header = buildHeader(
    { ...request.header, optionalBlocks: optional },
    2 * (dataLength + MAC_LENGTH[version]),
  );

  const padding = crypto.random(padLength);
  if (padding.length !== padLength) throw new MkmError('INTERNAL', undefined, { reason: 'random_length' });
  const clear = new Uint8Array(dataLength);
  clear[0] = (request.key.length * 8) >> 8;
  clear[1] = (request.key.length * 8) & 0xff;
  clear.set(request.key, 2);
  clear.set(padding, 2 + request.key.length);
  try {
    return await withBlockKeys(crypto, version, kbpk, async (kbek, kbak) => {
      const tag = await mac(crypto, kbak, header.text, clear, MAC_LENGTH[version]);
      const encrypted = await crypto.cbcEncrypt(kbek, tag, clear);
      return header.text + toHex(encrypted) + toHex(tag);
    });
  } finally {
    clear.fill(0);
  }
}

/**
 * Reads a whole key block and returns its key, or refuses with the code of the check that
 * failed: header syntax and fields, declared length, version, optional blocks, header
 * padding, hex encoding, sizes, MAC, key length, then the KC and KP check values.
 */
export async function unwrapKeyBlock<K>(
  crypto: KeyBlockCrypto<K>,
  kbpk: Kbpk<K>,
  block: string,
): Promise<UnwrappedKey> {
  const header = parseHeader(block);
  if (header.version === 'A' || header.version === 'C') {
    throw new MkmError('TR31_VERSION_DEPRECATED', undefined, { version: header.version });
  }
  const version = header.version;
  checkKbpk(version, kbpk);
  const body = block.slice(header.text.length);
  if (!UPPER_HEX.test(body)) throw new MkmError('TR31_ENCODING_INVALID');
  const size = blockSizeOf(version);
  const macHex = 2 * MAC_LENGTH[version];
  const dataHex = body.length - macHex;
  if (dataHex < 2 * size || dataHex % (2 * size) !== 0) {
    throw new MkmError('TR31_LENGTH_MISMATCH', undefined, { field: 'keyData', length: dataHex });
  }
  const encrypted = fromHex(body.slice(0, dataHex));
  const received = fromHex(body.slice(dataHex));

  const clear = await withBlockKeys(crypto, version, kbpk, async (kbek, kbak) => {
    const data = await crypto.cbcDecrypt(kbek, received, encrypted);
    const expected = await mac(crypto, kbak, header.text, data, MAC_LENGTH[version]);
    if (!sameBytes(expected, received)) {
      data.fill(0);
      throw new MkmError('TR31_MAC_MISMATCH');
    }
    return data;
  });
  try {
    const bits = (clear[0]! << 8) | clear[1]!;
    if (bits % 8 !== 0 || 2 + bits / 8 > clear.length) {
      throw new MkmError('TR31_KEY_LENGTH_INVALID', undefined, { bits, available: clear.length - 2 });
    }
    checkKeyLength(header.algorithm, bits / 8);
    const key = clear.slice(2, 2 + bits / 8);
    try {
      const checkedKcvs = await checkKcvs(crypto, kbpk, header, key);
      return { header, key, checkedKcvs };
    } catch (error) {
      key.fill(0);
      throw error;
    }
  } finally {
    clear.fill(0);
  }
}

async function checkKcvs<K>(
  crypto: KeyBlockCrypto<K>,
  kbpk: Kbpk<K>,
  header: KeyBlockHeader,
  key: Uint8Array,
): Promise<('KC' | 'KP')[]> {
  const blocks = kcvBlocksOf(header);
  const checked: ('KC' | 'KP')[] = [];
  if (blocks.KC) {
    const family = familyOfKey(header.algorithm);
    if (family === null) throw new MkmError('TR31_KCV_UNSUPPORTED', undefined, { block: 'KC' });
    const method = blocks.KC.method;
    const handle = await crypto.importKey(family, key);
    const kcv = await using(crypto, handle, (h) => keyCheckValue(crypto, h, family, method));
    if (toHex(kcv) !== blocks.KC.kcv) throw new MkmError('TR31_KCV_MISMATCH', undefined, { block: 'KC' });
    checked.push('KC');
  }
  if (blocks.KP) {
    const kcv = await keyCheckValue(crypto, kbpk.key, kbpk.family, blocks.KP.method);
    if (toHex(kcv) !== blocks.KP.kcv) throw new MkmError('TR31_KCV_MISMATCH', undefined, { block: 'KP' });
    checked.push('KP');
  }
  return checked;
}
