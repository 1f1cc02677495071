import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macInput } from '../../../electron/crypto/envelope.nodejs';
import {
  openInToken,
  sealInToken,
  type TokenSetKeys,
} from '../../../electron/gateway/client/token-envelope.nodejs';
import { softHsmAvailable } from '../../helpers/softhsm';
import { codeOf, createHarness, type Harness } from './harness';

/**
 * The envelope the client computes in the token, checked by an independent implementation:
 * the openssl CLI, given the clear keys of a throwaway set. Known test keys are imported into
 * the token (they are test vectors, not secrets) and the client's own seal/open code runs on
 * them; openssl decrypts and MACs the message, and builds an answer the client must open.
 */
const ENC_HEX = '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4';
const MAC_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const IV = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const SET_ID = 'ks_interop-check_0001';

let h: Harness;
let keys: TokenSetKeys;

const openssl = (args: string[], input: Buffer) => execFileSync('openssl', args, { input });

beforeAll(async () => {
  h = await createHarness();
  const slotId = h.hsm.slotId;
  const enc = await h.host.call('importKey', {
    slotId,
    type: 'aes-256',
    label: 'interop enc',
    purpose: 'data',
    keyHex: ENC_HEX,
  });
  const mac = await h.host.call('importKey', {
    slotId,
    type: 'hmac-256',
    label: 'interop mac',
    purpose: 'hmac',
    keyHex: MAC_HEX,
  });
  keys = { slotId, setId: SET_ID, encKeyId: enc.id, macKeyId: mac.id };
});

afterAll(async () => {
  await h?.close();
});

describe.runIf(softHsmAvailable())('secure envelope interop with openssl', () => {
  it('a request sealed in the token is authenticated and decrypted by openssl', async () => {
    const body = { salt: 'AAECAwQFBgcICQoLDA0ODw==', fields: { card_number: '4111111111111111' } };
    const sealed = await sealInToken(h.host, keys, IV, body);
    const ciphertext = Buffer.from(sealed.ciphertext, 'base64');
    expect(ciphertext.length % 16).toBe(0);

    const mac = openssl(
      ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${MAC_HEX}`, '-binary'],
      Buffer.concat([Buffer.from(`req.${SET_ID}.`, 'ascii'), IV, ciphertext]),
    );
    expect(mac.toString('base64')).toBe(sealed.mac);

    const clear = openssl(
      ['enc', '-d', '-aes-256-cbc', '-K', ENC_HEX, '-iv', IV.toString('hex')],
      ciphertext,
    );
    expect(JSON.parse(clear.toString('utf8'))).toEqual(body);
  });

  it('an answer built by openssl (fresh IV) is verified and decrypted in the token; a flipped MAC bit is MAC_INVALID', async () => {
    const answerIv = Buffer.from('f0e0d0c0b0a090807060504030201000', 'hex');
    const answer = { pong: true, server_time: '2026-01-01T00:00:00.000Z' };
    const ciphertext = openssl(
      ['enc', '-aes-256-cbc', '-K', ENC_HEX, '-iv', answerIv.toString('hex')],
      Buffer.from(JSON.stringify(answer), 'utf8'),
    );
    const mac = openssl(
      ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${MAC_HEX}`, '-binary'],
      Buffer.concat([Buffer.from(`rsp.${SET_ID}.`, 'ascii'), answerIv, ciphertext]),
    );
    const message = { set_id: SET_ID, iv: answerIv, ciphertext, mac };
    expect(await openInToken(h.host, keys, message)).toEqual(answer);

    const flipped = Buffer.from(mac);
    flipped[0]! ^= 0x01;
    expect(await codeOf(openInToken(h.host, keys, { ...message, mac: flipped }))).toBe('MAC_INVALID');
    // The MAC covers the IV: the same MAC over another IV fails too.
    expect(await codeOf(openInToken(h.host, keys, { ...message, iv: IV }))).toBe('MAC_INVALID');
    // Contract 1.1: the MAC names its direction, so the same bytes MACed as a request fail as an answer.
    const asRequest = openssl(
      ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${MAC_HEX}`, '-binary'],
      macInput('req', SET_ID, answerIv, ciphertext),
    );
    expect(await codeOf(openInToken(h.host, keys, { ...message, mac: asRequest }))).toBe('MAC_INVALID');
  });
});
