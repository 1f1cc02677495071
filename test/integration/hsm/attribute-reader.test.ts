import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attributeReaderFor,
  createAttributeReader,
  koffiBoundary,
  loadKoffi,
} from '../../../electron/hsm/pkcs11/attribute-reader.host';
import { listObjectsRaw } from '../../../electron/hsm/pkcs11/objects.host';
import {
  pkcs11js as P,
  readUlong,
  type Handle,
  type Template,
} from '../../../electron/hsm/pkcs11/pkcs11.host';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import type { ObjectClass } from '../../../shared/tokens.std';
import { hostTokenService } from '../../helpers/host-token-engine';
import { createNssToken, nssUnavailable } from '../../helpers/nss';
import { acquireOpenCryptoki } from '../../helpers/opencryptoki';
import { createSoftHsmToken } from '../../helpers/softhsm';

/**
 * The listing's one-call attribute reader (attribute-reader.host.ts, through koffi) against the
 * pkcs11js reads it replaces, on real tokens: every object must come out described exactly as
 * pkcs11js describes it, in the same order, and the listing must really take the one-call path
 * (a silent fallback to pkcs11js would pass the comparison and lose the speed).
 */
interface Opened {
  modulePath: string;
  slotId: number;
  svc: TokenEngine;
  stop(): Promise<void> | void;
}

const CLASSES: ObjectClass[] = ['secret', 'private', 'public', 'certificate', 'data', 'other'];
/** Longer than a reader slot (256 bytes): the CKR_BUFFER_TOO_SMALL path. */
const LONG_LABEL = 'long label '.repeat(30);
const LONG_ID = randomBytes(300);
const EC_P256 = Buffer.from('06082a8648ce3d030107', 'hex');
/** Name ::= CN=mkm-attrs, the certificate's CKA_SUBJECT and CKA_ISSUER (self-signed). */
const SUBJECT = Buffer.from('3014311230100603550403 0c096d6b6d2d6174747273'.replace(/ /g, ''), 'hex');

/**
 * A token object, else a session object, else a public session object: NSS softokn keeps data
 * objects only as public session objects (CKR_ATTRIBUTE_VALUE_INVALID otherwise).
 */
function create(svc: TokenEngine, slotId: number, template: Template): Handle {
  const raw = svc._raw(slotId);
  const variants: Template[] = [
    [...template, { type: P.CKA_TOKEN, value: true }],
    [...template, { type: P.CKA_TOKEN, value: false }],
    [
      ...template.filter((a) => a.type !== P.CKA_PRIVATE),
      { type: P.CKA_TOKEN, value: false },
      { type: P.CKA_PRIVATE, value: false },
    ],
  ];
  let last: unknown;
  for (const variant of variants) {
    try {
      return raw.pkcs11.C_CreateObject(raw.session, variant);
    } catch (error) {
      last = error;
    }
  }
  throw last;
}

async function seed(svc: TokenEngine, slotId: number): Promise<{ ec: boolean }> {
  const raw = svc._raw(slotId);
  await svc.generateKey({ slotId, type: 'rsa-2048', label: 'transport', purpose: 'gateway-transport' });
  await svc.generateKey({ slotId, type: 'aes-256', label: 'data key', purpose: 'data' });
  raw.pkcs11.C_GenerateKey(raw.session, { mechanism: P.CKM_AES_KEY_GEN }, [
    { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_VALUE_LEN, value: 32 },
    { type: P.CKA_ENCRYPT, value: true },
    { type: P.CKA_LABEL, value: LONG_LABEL },
    { type: P.CKA_ID, value: LONG_ID },
  ]);
  let ec = true;
  try {
    raw.pkcs11.C_GenerateKeyPair(
      raw.session,
      { mechanism: P.CKM_EC_KEY_PAIR_GEN },
      [
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_EC_PARAMS, value: EC_P256 },
        { type: P.CKA_VERIFY, value: true },
        { type: P.CKA_LABEL, value: 'ec' },
        { type: P.CKA_ID, value: Buffer.from('ec01', 'hex') },
      ],
      [
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_SENSITIVE, value: true },
        { type: P.CKA_SIGN, value: true },
        { type: P.CKA_LABEL, value: 'ec' },
        { type: P.CKA_ID, value: Buffer.from('ec01', 'hex') },
      ],
    );
  } catch {
    ec = false;
  }
  for (let i = 0; i < 3; i++) {
    create(svc, slotId, [
      { type: P.CKA_CLASS, value: P.CKO_DATA },
      { type: P.CKA_PRIVATE, value: i % 2 === 0 },
      { type: P.CKA_LABEL, value: i === 2 ? LONG_LABEL : `data ${i}` },
      { type: P.CKA_APPLICATION, value: 'attribute-reader' },
      { type: P.CKA_VALUE, value: randomBytes(8) },
    ]);
  }
  create(svc, slotId, [
    { type: P.CKA_CLASS, value: P.CKO_CERTIFICATE },
    { type: P.CKA_CERTIFICATE_TYPE, value: P.CKC_X_509 },
    { type: P.CKA_LABEL, value: 'cert' },
    { type: P.CKA_ID, value: Buffer.from('ce01', 'hex') },
    { type: P.CKA_SUBJECT, value: SUBJECT },
    { type: P.CKA_ISSUER, value: SUBJECT },
    { type: P.CKA_SERIAL_NUMBER, value: CERT_DER.subarray(13, 35) },
    { type: P.CKA_VALUE, value: CERT_DER },
  ]);
  return { ec };
}

/** pkcs11js's C_GetAttributeValue calls while `body` runs. */
async function attributeCalls<T>(
  svc: TokenEngine,
  slotId: number,
  body: () => Promise<T>,
): Promise<[T, number]> {
  const raw = svc._raw(slotId);
  let calls = 0;
  const original = raw.pkcs11.C_GetAttributeValue.bind(raw.pkcs11);
  raw.pkcs11.C_GetAttributeValue = (session, object, template) => {
    calls++;
    return original(session, object, template);
  };
  try {
    return [await body(), calls];
  } finally {
    delete (raw.pkcs11 as { C_GetAttributeValue?: unknown }).C_GetAttributeValue;
  }
}

function readerSuite(name: string, open: () => Promise<Opened>): void {
  describe(`one-call attribute reads on ${name}`, () => {
    let t: Opened;
    let ec: boolean;
    beforeAll(async () => {
      t = await open();
      ({ ec } = await seed(t.svc, t.slotId));
    });
    afterAll(async () => {
      await t?.svc.unloadModule();
      await t?.stop();
    });

    it('lists every object as the pkcs11js reads do, without one pkcs11js attribute read', async () => {
      const { svc, slotId } = t;
      const raw = svc._raw(slotId);
      const [fast, calls] = await attributeCalls(svc, slotId, () => svc.listObjects({ slotId }));
      expect(calls).toBe(0);
      const slow = listObjectsRaw(raw.pkcs11, raw.session).map((o) => o.info);
      expect(fast).toEqual(slow);

      const labels = fast.map((o) => o.label);
      expect(labels.filter((l) => l === LONG_LABEL)).toHaveLength(2);
      expect(fast.find((o) => o.label === LONG_LABEL && o.class === 'secret')?.id).toBe(
        LONG_ID.toString('hex'),
      );
      expect(fast.filter((o) => o.class === 'data').every((o) => o.id === '')).toBe(true);
      expect(fast.filter((o) => o.class === 'data')).toHaveLength(3);
      expect(fast.find((o) => o.class === 'certificate')).toMatchObject({ id: 'ce01', label: 'cert' });
      const rsa = fast.filter((o) => o.keyType === 'rsa' && o.label === 'transport');
      expect(rsa.map((o) => o.class).sort()).toEqual(['private', 'public']);
      expect(rsa.find((o) => o.class === 'private')?.bits).toBe(2048);
      if (ec)
        expect(
          fast
            .filter((o) => o.keyType === 'ec')
            .map((o) => o.class)
            .sort(),
        ).toEqual(['private', 'public']);
    });

    it('lists each class as the pkcs11js reads do', async () => {
      const { svc, slotId } = t;
      const raw = svc._raw(slotId);
      for (const cls of CLASSES) {
        const [fast, calls] = await attributeCalls(svc, slotId, () =>
          svc.listObjects({ slotId, class: cls }),
        );
        expect(calls).toBe(0);
        expect(fast).toEqual(listObjectsRaw(raw.pkcs11, raw.session, cls).map((o) => o.info));
      }
    });

    it('gives the values one call could not, and refuses to read a key value', async () => {
      const { svc, slotId } = t;
      const raw = svc._raw(slotId);
      const made = await attributeReaderFor(t.modulePath);
      if (!made.reader) throw new Error(`no one-call reader: ${made.why}`);
      const reader = made.reader;
      try {
        const [key] = (() => {
          raw.pkcs11.C_FindObjectsInit(raw.session, [
            { type: P.CKA_LABEL, value: LONG_LABEL },
            { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
          ]);
          try {
            return raw.pkcs11.C_FindObjects(raw.session, 2);
          } finally {
            raw.pkcs11.C_FindObjectsFinal(raw.session);
          }
        })();
        const read = reader.read(raw.session, key!, [P.CKA_CLASS, P.CKA_LABEL, P.CKA_ID, P.CKA_SENSITIVE]);
        // Both longer than a slot: marked unavailable, the other two filled in the same call.
        expect(read.missing.sort()).toEqual([P.CKA_ID, P.CKA_LABEL].sort());
        expect(read.values.get(P.CKA_SENSITIVE)).toEqual(Buffer.from([1]));
        expect(readUlong(read.values.get(P.CKA_CLASS))).toBe(P.CKO_SECRET_KEY);
        expect(reader.readOne(raw.session, key!, P.CKA_LABEL)?.toString()).toBe(LONG_LABEL);
        expect(reader.readOne(raw.session, key!, P.CKA_ID)).toEqual(LONG_ID);
        expect(() => reader.read(raw.session, key!, [P.CKA_LABEL, P.CKA_VALUE])).toThrow(/secret/);
        expect(() => reader.readOne(raw.session, key!, P.CKA_VALUE)).toThrow(/secret/);
      } finally {
        reader.close();
      }
    });

    it('reads each object of a class in one module call', async () => {
      const { svc, slotId } = t;
      const raw = svc._raw(slotId);
      const boundary = koffiBoundary(await loadKoffi(), t.modulePath);
      let calls = 0;
      const reader = createAttributeReader({
        ...boundary,
        call: (...args) => {
          calls++;
          return boundary.call(...args);
        },
      });
      // Module calls per read(); readOne (a value too long for its slot, or one the token
      // refuses, such as NSS's CKA_DERIVE on an AES key) is counted apart.
      const perRead: number[] = [];
      const read = reader.read.bind(reader);
      reader.read = (...args) => {
        const before = calls;
        try {
          return read(...args);
        } finally {
          perRead.push(calls - before);
        }
      };
      try {
        const secret = listObjectsRaw(raw.pkcs11, raw.session, 'secret', [], reader);
        expect(secret.map((o) => o.info)).toEqual(
          listObjectsRaw(raw.pkcs11, raw.session, 'secret').map((o) => o.info),
        );
        expect(secret).toHaveLength(2);
        expect(perRead).toEqual([1, 1]);
      } finally {
        reader.close();
      }
    });
  });
}

readerSuite('SoftHSM2', async () => {
  const hsm = createSoftHsmToken({ label: 'attribute-reader' });
  const svc = hostTokenService();
  await svc.loadModule({ path: hsm.modulePath });
  await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
  return { modulePath: hsm.modulePath, slotId: hsm.slotId, svc, stop: () => hsm.cleanup() };
});

readerSuite('openCryptoki (swtok)', async () => {
  const ock = await acquireOpenCryptoki();
  try {
    const token = await ock.remake('mkm-attrs');
    const svc = hostTokenService();
    await svc.loadModule({ path: token.modulePath });
    await svc.login({ slotId: token.slotId, pin: token.userPin });
    return { modulePath: token.modulePath, slotId: token.slotId, svc, stop: () => ock.release() };
  } catch (error) {
    ock.release();
    throw error;
  }
});

const nssMissing = nssUnavailable();
if (nssMissing) console.warn(`NSS softokn attribute reads skipped: ${nssMissing}`);
(nssMissing ? describe.skip : describe)('NSS softokn', () => {
  readerSuite('NSS softokn', async () => {
    const nss = createNssToken();
    const svc = hostTokenService();
    await svc.loadModule({ path: nss.modulePath, libraryParameters: nss.libraryParameters });
    await svc.login({ slotId: nss.slotId });
    return { modulePath: nss.modulePath, slotId: nss.slotId, svc, stop: () => nss.cleanup() };
  });
});

/**
 * A self-signed P-256 certificate for CN=mkm-attrs (openssl req -x509), as NSS wants a real one;
 * bytes 13..35 are its serial number's DER.
 */
const CERT_DER = Buffer.from(
  [
    'MIIBgDCCASWgAwIBAgIUBKMKpAmGSTjofKZnA2R7+O1Y9EswCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJbWttLWF0',
    'dHJzMCAXDTI2MTIwNzIwMzM0M1oYDzIxMjYxMTEzMjAzMzQzWjAUMRIwEAYDVQQDDAlta20tYXR0cnMwWTATBgcq',
    'hkjOPQIBBggqhkjOPQMBBwNCAATPoyV71rc56gUMGpxmvdMmXC4swsSsA34Qw+DWO2wimErikLhVIgrqVoXFdxbO',
    'dYd06OvMkEmW423/4ZqieOibo1MwUTAdBgNVHQ4EFgQU9/l863mrWlGI8Efo1+HrnUoOMBswHwYDVR0jBBgwFoAU',
    '9/l863mrWlGI8Efo1+HrnUoOMBswDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAiP/eydWh40W6',
    'ylzxUiAoRbYIFhIEGoblOJrdoNcUlHkCIQD5ulYH4rlDipGJRB90WU/hWiydhjT3WMpPEwoyEfzn8w==',
  ].join(''),
  'base64',
);
