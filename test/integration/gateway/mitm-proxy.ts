import { createHash, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { aesCmacKcv, hmacKcv } from '../../../electron/crypto/kcv.nodejs';
import { signKeySet } from '../../../electron/gateway/keyset-signature.nodejs';
import { wrapOaep, type Wrapping } from '../../../electron/gateway/sandbox/rsa.nodejs';
import { ensureTlsMaterial } from '../../../electron/gateway/sandbox/tls.nodejs';

/**
 * A man in the middle on loopback: it terminates TLS with a certificate of its own (the test
 * pins the profile to it, as a careless admin or an intercepting corporate proxy would), passes
 * every call on to the real sandbox, and rewrites the `next_key_set` of the answers. What it
 * plants is exactly what contract 1.0 let anyone in its place plant: fresh keys wrapped under
 * the merchant's public transport key (which it read off the registration going by), with
 * correct KCVs, and either no signature or one by a key of its own. It notes every secure
 * request sealed under a set it planted: with those keys it could read that message.
 */

export type MitmMode =
  /** Pass everything through untouched. */
  | 'pass'
  /** Replace every next_key_set with one of its own, without sig. */
  | 'strip'
  /** Replace every next_key_set with one of its own, signed by its own key. */
  | 'forge';

export interface Mitm {
  url: string;
  pin: string;
  mode: MitmMode;
  /** Serve its own key on GET /v1/encryption/signing_key (an attempt to get it pinned). */
  swapSigningKey: boolean;
  /** Set ids it planted. */
  planted: Set<string>;
  /** Secure requests sent under a planted set (each one a message the attacker can read). */
  readable: string[];
  /** Genuine sets as the gateway signed them (for the openssl cross-check). */
  genuine: Record<string, unknown>[];
  attackerPublicPem: string;
  close(): Promise<void>;
}

function body(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

export async function startMitm(target: { port: number }, dataDir: string): Promise<Mitm> {
  const tls = await ensureTlsMaterial(dataDir);
  const attacker: { privateKey: KeyObject; publicKey: KeyObject } = generateKeyPairSync('rsa', {
    modulusLength: 3072,
  });
  const transport = new Map<string, { pem: string; wrapping: Wrapping }>();

  const plant = (original: Record<string, unknown>, mode: 'strip' | 'forge'): Record<string, unknown> => {
    const known = transport.get(String(original.wrapping_key_id));
    if (!known) return original;
    const publicKey = createPublicKey(known.pem);
    const encKey = randomBytes(32);
    const macKey = randomBytes(32);
    const set: Record<string, unknown> = {
      ...original,
      set_id: `ks_${randomBytes(16).toString('base64url')}`,
      enc_key: wrapOaep(publicKey, known.wrapping, encKey).toString('base64'),
      mac_key: wrapOaep(publicKey, known.wrapping, macKey).toString('base64'),
      iv: randomBytes(16).toString('base64'),
      enc_kcv: aesCmacKcv(encKey),
      mac_kcv: hmacKcv(macKey),
    };
    delete set.sig;
    if (mode === 'forge') set.sig = signKeySet(attacker.privateKey, set);
    mitm.planted.add(set.set_id as string);
    return set;
  };

  const server = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    void (async () => {
      const requestBody = await body(req);
      const path = req.url ?? '/';
      let sent: Record<string, unknown> | null = null;
      try {
        sent = requestBody.length
          ? (JSON.parse(requestBody.toString('utf8')) as Record<string, unknown>)
          : null;
      } catch {
        sent = null;
      }
      if (req.method === 'POST' && path === '/v1/encryption/merchant_keys' && sent) {
        transport.set(String(sent.key_id), {
          pem: String(sent.public_key_pem),
          wrapping: sent.wrapping as Wrapping,
        });
      }
      if (path.startsWith('/v1/secure/') && sent && mitm.planted.has(String(sent.set_id))) {
        mitm.readable.push(String(sent.set_id));
      }
      const upstream = https.request({
        host: '127.0.0.1',
        port: target.port,
        method: req.method,
        path,
        headers: { ...req.headers, host: `127.0.0.1:${target.port}` },
        // The attacker does not care whom it talks to.
        rejectUnauthorized: false,
      });
      upstream.on('response', (answer) => {
        void body(answer).then((raw) => {
          let out = raw;
          if (path === '/v1/encryption/signing_key' && mitm.swapSigningKey && answer.statusCode === 200) {
            const view = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
            const der = attacker.publicKey.export({ type: 'spki', format: 'der' });
            view.pem = mitm.attackerPublicPem;
            view.spki_sha256 = createHash('sha256').update(der).digest('hex');
            out = Buffer.from(JSON.stringify(view));
          } else if (/json/.test(String(answer.headers['content-type']))) {
            try {
              const parsed = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
              if (parsed.next_key_set && typeof parsed.next_key_set === 'object') {
                mitm.genuine.push(parsed.next_key_set as Record<string, unknown>);
                if (mitm.mode !== 'pass') {
                  parsed.next_key_set = plant(parsed.next_key_set as Record<string, unknown>, mitm.mode);
                  out = Buffer.from(JSON.stringify(parsed));
                }
              }
            } catch {
              // Not JSON after all: passed on as it came.
            }
          }
          const headers = { ...answer.headers, 'content-length': String(out.length) };
          delete headers['transfer-encoding'];
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(out);
        });
      });
      upstream.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      upstream.end(requestBody);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const mitm: Mitm = {
    url: `https://127.0.0.1:${port}`,
    pin: tls.pin,
    mode: 'pass',
    swapSigningKey: false,
    planted: new Set(),
    readable: [],
    genuine: [],
    attackerPublicPem: attacker.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return mitm;
}
