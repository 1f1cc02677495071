import { describe, expect, it } from 'vitest';
import { checkPrimeSync, createDiffieHellman, createHash, getDiffieHellman, randomBytes } from 'node:crypto';
import { sha256 } from '../../../shared/formats/shares/sha256.std';
import {
  G,
  H,
  H_LABEL,
  P,
  Q,
  bigIntToBytes,
  bytesToBigInt,
  invertModQ,
  isSubgroupElement,
  modPow,
  modPow2,
} from '../../../shared/formats/shares/group.std';
import { lagrangeAtZero } from '../../../shared/formats/shares/recover.std';
import { evaluate } from '../../../shared/formats/shares/split.std';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => new TextEncoder().encode(s);

describe('SHA-256 (pure)', () => {
  it('gives the FIPS 180-2 example digests', () => {
    expect(hex(sha256(ascii('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hex(sha256(ascii('')))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(sha256(ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    expect(hex(sha256(ascii('a'.repeat(1_000_000))))).toBe(
      'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
    );
  });

  it('agrees with node:crypto at every length around the block and padding boundaries', () => {
    for (let n = 0; n <= 200; n++) {
      const data = new Uint8Array(randomBytes(n));
      expect(hex(sha256(data)), `length ${n}`).toBe(createHash('sha256').update(data).digest('hex'));
    }
  });
});

describe('the commitment group (RFC 3526 group 14)', () => {
  it('is the prime OpenSSL knows as modp14, a safe prime with 2 of order q', () => {
    expect(P).toBe(bytesToBigInt(new Uint8Array(getDiffieHellman('modp14').getPrime())));
    expect(P.toString(2)).toHaveLength(2048);
    expect(checkPrimeSync(P)).toBe(true);
    expect(checkPrimeSync(Q)).toBe(true);
    expect(P).toBe(2n * Q + 1n);
    expect(modPow(G, Q, P)).toBe(1n);
    expect(isSubgroupElement(G)).toBe(true);
    expect(Q >= 1n << 256n).toBe(true); // a 32-byte key is one field element
  });

  it('derives h from its public label, so no one chose it (and it is of order q, not g)', () => {
    const wide = Buffer.concat(
      Array.from({ length: 9 }, (_, counter) =>
        createHash('sha256')
          .update(Buffer.concat([Buffer.from(H_LABEL, 'utf8'), Buffer.from([counter])]))
          .digest(),
      ),
    );
    const expected = modPow(BigInt(`0x${wide.toString('hex')}`) % P, 2n, P);
    expect(H).toBe(expected);
    expect(isSubgroupElement(H)).toBe(true);
    expect(H).not.toBe(G);
  });

  it('refuses values outside the subgroup as elements (a non-square, 0, 1, p-1, p)', () => {
    expect(isSubgroupElement(P - 1n)).toBe(false); // order 2
    expect(isSubgroupElement(0n)).toBe(false);
    expect(isSubgroupElement(1n)).toBe(false);
    expect(isSubgroupElement(P)).toBe(false);
    // 2 is a square mod p (p = 7 mod 8) and -1 is not (p = 3 mod 4), so -2 is not.
    expect(isSubgroupElement(P - 2n)).toBe(false);
  });

  it('exponentiates as OpenSSL does (2^x mod p is a modp14 Diffie-Hellman public key)', () => {
    for (const seed of ['one', 'two', 'three']) {
      const x = bytesToBigInt(createHash('sha256').update(seed).digest()) * 0x1234567n + 1n;
      const dh = createDiffieHellman(getDiffieHellman('modp14').getPrime(), 2);
      dh.setPrivateKey(Buffer.from(bigIntToBytes(x, 256)));
      dh.generateKeys();
      expect(modPow(G, x, P)).toBe(bytesToBigInt(new Uint8Array(dh.getPublicKey())));
    }
    expect(modPow(H, 0n, P)).toBe(1n);
    expect(modPow(H, 1n, P)).toBe(H);
    expect(modPow(3n, 17n, 1000n)).toBe(3n ** 17n % 1000n);
  });

  it('computes g^a * h^b in one chain, as the two exponentiations do', () => {
    for (const [a, b] of [
      [0n, 0n],
      [1n, 0n],
      [0n, 1n],
      [Q - 1n, 5n],
      [bytesToBigInt(randomBytes(255)), bytesToBigInt(randomBytes(200))],
    ] as const) {
      expect(modPow2(G, a, H, b)).toBe((modPow(G, a, P) * modPow(H, b, P)) % P);
    }
  });

  it('inverts mod q and interpolates a polynomial back to its constant term', () => {
    for (const x of [1n, 2n, 15n, Q - 1n, 123456789n]) expect((x * invertModQ(x)) % Q).toBe(1n);
    const poly = [42n, Q - 5n, 7n];
    const xs = [3n, 9n, 16n];
    const lambdas = lagrangeAtZero(xs);
    const at0 = xs.reduce((acc, x, i) => (acc + lambdas[i]! * evaluate(poly, x)) % Q, 0n);
    expect(at0).toBe(42n);
  });

  it('converts big-endian bytes both ways and refuses a value that does not fit', () => {
    const b = new Uint8Array([0, 1, 2, 255]);
    expect(bigIntToBytes(bytesToBigInt(b), 4)).toEqual(b);
    expect(() => bigIntToBytes(1n << 32n, 4)).toThrow(RangeError);
  });
});
