import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One RSA-2048 key pair per test file, with its PEMs on disk for the openssl CLI. */
export interface RsaFixture {
  dir: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
  publicPem: string;
  privatePem: string;
  publicPemPath: string;
  privatePemPath: string;
}

export function makeRsaFixture(bits = 2048): RsaFixture {
  const dir = mkdtempSync(join(tmpdir(), 'mkm-crypto-'));
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPemPath = join(dir, 'public.pem');
  const privatePemPath = join(dir, 'private.pem');
  writeFileSync(publicPemPath, publicPem);
  writeFileSync(privatePemPath, privatePem, { mode: 0o600 });
  return { dir, publicKey, privateKey, publicPem, privatePem, publicPemPath, privatePemPath };
}

/** Run openssl; stdout as bytes. Throws when openssl exits non-zero. */
export function openssl(args: string[], input?: Uint8Array): Buffer {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** The same, but true/false for "openssl accepted it". */
export function opensslAccepts(args: string[], input?: Uint8Array): boolean {
  try {
    openssl(args, input);
    return true;
  } catch {
    return false;
  }
}

export function writeTemp(dir: string, name: string, data: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}
