import {
  parseKekBackup,
  shareChunks,
  shareFromWire,
  shareToWire,
} from '../../../shared/ceremony/share-ops.std';
import { asMkmError } from '../api.dom';
import { wipe } from '../../../shared/formats/components.std';
import { encodeShareText, parseShareText } from '../../../shared/formats/shares/share-text.std';
import { decryptReply, encryptTo } from './transport.dom';

/**
 * A key share in a custodian's window (issue 11 point 5): read from the printed text as it is
 * typed (every line has its own check group, so a typo is named on its line before anything
 * leaves the page), sent only encrypted to the token's transport key, and revealed only from
 * ciphertexts to this window's own key. The share's bytes are wiped as soon as they are used.
 */

export type ShareTyping =
  | { state: 'empty' }
  | { state: 'ok'; index: number; count: number; threshold: number; backupId: string }
  | { state: 'problem'; message: string };

/** What the typed text is so far: a whole share (named by number, never by value), or what is wrong. */
export function describeShareTyping(text: string): ShareTyping {
  if (text.trim() === '') return { state: 'empty' };
  try {
    const share = parseShareText(text);
    wipe(share.value);
    return {
      state: 'ok',
      index: share.index,
      count: share.count,
      threshold: share.threshold,
      backupId: share.backupId,
    };
  } catch (error) {
    return { state: 'problem', message: asMkmError(error).message };
  }
}

/** The share typed, as the chunks the token host opens (RSA-OAEP SHA-256 to the transport key). */
export async function encryptShareText(spkiPem: string, text: string): Promise<string[]> {
  const share = parseShareText(text);
  const wire = shareToWire(share);
  try {
    return await Promise.all(shareChunks(wire).map((chunk) => encryptTo(spkiPem, chunk)));
  } finally {
    wipe(wire, share.value);
  }
}

/** The revealed share's printable text, from the reply's chunks to this window's key. */
export async function revealedShareText(privateKey: CryptoKey, joined: string): Promise<string> {
  const parts = await Promise.all(joined.split(',').map((c) => decryptReply(privateKey, c)));
  const wire = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    wire.set(p, at);
    at += p.length;
  }
  wipe(...parts);
  const share = shareFromWire(wire);
  wipe(wire);
  if (!share) throw new Error('The revealed share is not whole.');
  try {
    return encodeShareText(share);
  } finally {
    wipe(share.value);
  }
}

/** A backup record file's text checked before it goes into a script's parameters. */
export function backupRecordOf(text: string): ReturnType<typeof parseKekBackup> | null {
  try {
    return parseKekBackup(text);
  } catch {
    return null;
  }
}
