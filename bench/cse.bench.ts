import { constants, generateKeyPairSync, publicEncrypt, randomInt } from 'node:crypto';
import forge from 'node-forge';
import { decryptField, encryptField } from '../electron/crypto/cse.nodejs';
import { parseRsaPublicKey } from '../electron/crypto/pem.nodejs';
import { luhnCheckDigit } from '../shared/formats/luhn.std';

/**
 * Client-side encryption of 10,000 card fields (16-digit PANs and CVVs, alternating):
 * - mkm's encryptField (node:crypto) against node-forge's publicKey.encrypt with
 *   RSAES-PKCS1-V1_5, what PayTrace's own library uses, on the same inputs and key. Target: 5x.
 * - mkm's encryptField against raw node:crypto doing the same RSA operations (publicEncrypt with
 *   the same KeyObject and padding, base64 out): what mkm's checks cost. Target: mkm's speed
 *   within 0.9x of the raw calls. Median of RAW_RUNS interleaved runs each, as the gap is small.
 * Run: npx tsx bench/cse.bench.ts
 */

const FIELDS = 10_000;
const TARGET = 5;
const RAW_TARGET = 0.9;
const RAW_RUNS = 5;

function pan(): string {
  const body = '4' + Array.from({ length: 14 }, () => randomInt(10)).join('');
  return body + luhnCheckDigit(body);
}

function cvv(): string {
  return String(randomInt(1000)).padStart(3, '0');
}

function time(run: () => void): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const gatewayKey = parseRsaPublicKey(pem);
const forgeKey = forge.pki.publicKeyFromPem(pem);
const values = Array.from({ length: FIELDS }, (_, i) => (i % 2 === 0 ? pan() : cvv()));

const mkmOut: string[] = new Array(FIELDS);
const forgeOut: string[] = new Array(FIELDS);
const rawOut: string[] = new Array(FIELDS);
const rawOptions = { key: gatewayKey.keyObject, padding: constants.RSA_PKCS1_PADDING };
const raw = () =>
  values.forEach(
    (v, i) => (rawOut[i] = publicEncrypt(rawOptions, Buffer.from(v, 'utf8')).toString('base64')),
  );
const mkm = () => values.forEach((v, i) => (mkmOut[i] = encryptField(gatewayKey, v, 'RSAES-PKCS1-V1_5')));
const viaForge = () =>
  values.forEach((v, i) => (forgeOut[i] = forge.util.encode64(forgeKey.encrypt(v, 'RSAES-PKCS1-V1_5'))));

// Warm both paths so neither pays JIT or first-use costs inside its timing.
for (let i = 0; i < 50; i++) {
  encryptField(gatewayKey, values[i]!, 'RSAES-PKCS1-V1_5');
  forgeKey.encrypt(values[i]!, 'RSAES-PKCS1-V1_5');
  publicEncrypt(rawOptions, Buffer.from(values[i]!, 'utf8'));
}

const forgeMs = time(viaForge);
const mkmMs = time(mkm);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const mkmRuns: number[] = [];
const rawRuns: number[] = [];
for (let r = 0; r < RAW_RUNS; r++) {
  rawRuns.push(time(raw));
  mkmRuns.push(time(mkm));
}
const rawMs = median(rawRuns);
const mkmMedianMs = median(mkmRuns);

// A fast wrong answer is no answer: both outputs must decrypt to the inputs.
for (const i of [0, 1, FIELDS - 2, FIELDS - 1]) {
  for (const out of [mkmOut, forgeOut, rawOut]) {
    if (decryptField(privateKey, out[i]!, 'RSAES-PKCS1-V1_5') !== values[i])
      throw new Error(`field ${i} does not decrypt`);
  }
}

const ratio = forgeMs / mkmMs;
console.log(`cse fields: ${FIELDS} (RSA-2048, RSAES-PKCS1-V1_5, 16-digit PANs and CVVs)`);
console.log(
  `cse mkm encryptField: ${mkmMs.toFixed(0)} ms (${((mkmMs * 1000) / FIELDS).toFixed(1)} us/field)`,
);
console.log(
  `cse node-forge publicKey.encrypt: ${forgeMs.toFixed(0)} ms (${((forgeMs * 1000) / FIELDS).toFixed(1)} us/field)`,
);
console.log(
  `cse ratio: ${ratio.toFixed(1)}x faster than node-forge (target >= ${TARGET}x${ratio >= TARGET ? ', met' : ', NOT met'})`,
);
const rawRatio = rawMs / mkmMedianMs;
console.log(
  `cse raw node:crypto publicEncrypt: ${rawMs.toFixed(0)} ms, mkm ${mkmMedianMs.toFixed(0)} ms (medians of ${RAW_RUNS}): mkm at ${rawRatio.toFixed(2)}x the raw speed (target >= ${RAW_TARGET}x${rawRatio >= RAW_TARGET ? ', met' : ', NOT met'})`,
);
