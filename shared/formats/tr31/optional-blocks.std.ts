import { MkmError } from '../../errors.std';
import { encodeHex } from '../encoding.std';

/**
 * Optional blocks of a TR-31 / X9.143 header: two-character ID, length, data. The length
 * counts the whole block (ID and length included), two uppercase hex digits, or `00`, then
 * the number of hex digits of the real length, then that length (X9.143 6.3.6; used for
 * certificates). Every block is kept verbatim, in order, so the MAC'd header is rebuilt
 * exactly; KC, KP and PB are also read for what they mean.
 */

export interface OptionalBlock {
  id: string;
  /** The data as written in the block, printable ASCII. */
  data: string;
}

/** How a key check value in a KC or KP block was computed (X9.143 table 9, byte 1). */
export type KcvMethod = 'legacy' | 'cmac';

export interface KcvBlock {
  method: KcvMethod;
  /** Uppercase hex: 3 bytes for `legacy`, 5 for `cmac`. */
  kcv: string;
}

const KCV_METHOD_CODES: Record<string, KcvMethod> = { '00': 'legacy', '01': 'cmac' };
const KCV_HEX_LENGTH: Record<KcvMethod, number> = { legacy: 6, cmac: 10 };

const ID = /^[0-9A-Z]{2}$/;
const HEX = /^[0-9A-F]+$/;
const PRINTABLE = /^[\x20-\x7e]*$/;

function malformed(reason: string, id: string | null, index: number): MkmError {
  return new MkmError('TR31_OPTIONAL_BLOCK_MALFORMED', undefined, { reason, block: id, index });
}

/** Reads `count` blocks starting at `start`; returns them and where the header ends. */
export function parseOptionalBlocks(
  text: string,
  start: number,
  count: number,
): { blocks: OptionalBlock[]; end: number } {
  const blocks: OptionalBlock[] = [];
  let at = start;
  for (let n = 0; n < count; n++) {
    const id = text.slice(at, at + 2);
    if (!ID.test(id)) throw malformed('id', null, at);
    let length = readHex(text, at + 2, 2, id);
    let dataStart = at + 4;
    if (length === 0) {
      const digits = readHex(text, at + 4, 2, id);
      if (digits === 0) throw malformed('extended_length', id, at + 4);
      length = readHex(text, at + 6, digits, id);
      dataStart = at + 6 + digits;
    }
    if (length < dataStart - at) throw malformed('length_too_small', id, at + 2);
    const end = at + length;
    if (end > text.length) throw malformed('past_end', id, at);
    const data = text.slice(dataStart, end);
    if (!PRINTABLE.test(data)) throw malformed('not_printable', id, dataStart);
    if (blocks.some((b) => b.id === id)) throw malformed('duplicate', id, at);
    blocks.push({ id, data });
    at = end;
  }
  const pb = blocks.findIndex((b) => b.id === 'PB');
  if (pb !== -1 && pb !== blocks.length - 1) throw malformed('padding_not_last', 'PB', start);
  for (const b of blocks) if (b.id === 'KC' || b.id === 'KP') parseKcvBlock(b);
  return { blocks, end: at };
}

function readHex(text: string, at: number, digits: number, id: string): number {
  const field = text.slice(at, at + digits);
  if (field.length !== digits || !HEX.test(field)) throw malformed('length', id, at);
  return parseInt(field, 16);
}

/** The method and value of a KC (key) or KP (KBPK) check value block. */
export function parseKcvBlock(block: OptionalBlock): KcvBlock {
  const method = KCV_METHOD_CODES[block.data.slice(0, 2)];
  if (method === undefined) throw malformed('kcv_method', block.id, 0);
  const kcv = block.data.slice(2);
  if (kcv.length !== KCV_HEX_LENGTH[method] || !HEX.test(kcv)) throw malformed('kcv_value', block.id, 2);
  return { method, kcv };
}

export function kcvBlockData(method: KcvMethod, kcv: Uint8Array): string {
  const code = method === 'legacy' ? '00' : '01';
  return code + encodeHex(kcv.subarray(0, kcvLength(method))).toUpperCase();
}

/** Bytes of a KCV for the method: X9.24-1 legacy keeps 3, the CMAC method 5. */
export function kcvLength(method: KcvMethod): number {
  return KCV_HEX_LENGTH[method] / 2;
}

export function encodeOptionalBlock(block: OptionalBlock): string {
  if (!ID.test(block.id)) throw malformed('id', block.id, 0);
  if (!PRINTABLE.test(block.data)) throw malformed('not_printable', block.id, 0);
  const short = 4 + block.data.length;
  if (short <= 0xff) return block.id + hex2(short, 2) + block.data;
  const long = 10 + block.data.length;
  if (long > 0xffff) throw malformed('too_long', block.id, 0);
  return `${block.id}0004${hex2(long, 4)}${block.data}`;
}

function hex2(n: number, digits: number): string {
  return n.toString(16).toUpperCase().padStart(digits, '0');
}
