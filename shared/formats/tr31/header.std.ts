import { MkmError } from '../../errors.std';
import {
  blockSizeOf,
  isAlgorithm,
  isExportability,
  isKeyUsage,
  isModeOfUse,
  isVersion,
  type Algorithm,
  type Exportability,
  type KeyBlockVersion,
  type KeyUsage,
  type ModeOfUse,
} from './fields.std';
import {
  encodeOptionalBlock,
  parseKcvBlock,
  parseOptionalBlocks,
  type KcvBlock,
  type OptionalBlock,
} from './optional-blocks.std';

/**
 * The clear header of a TR-31 / X9.143 key block: 16 fixed characters, then the optional
 * blocks. The header is MAC'd as the exact characters received, so `text` keeps them; the
 * parsed fields are for deciding what the key may become.
 */

export interface KeyBlockHeader {
  version: KeyBlockVersion;
  /** The whole block's length as the header declares it (checked against the real length). */
  length: number;
  usage: KeyUsage;
  algorithm: Algorithm;
  modeOfUse: ModeOfUse;
  /** `00` when unused; `c` and a digit for a key component; otherwise two alphanumerics. */
  keyVersion: string;
  exportability: Exportability;
  optionalBlocks: OptionalBlock[];
  /** The header exactly as read or built: the MAC's input starts with it. */
  text: string;
}

/** What a block's writer chooses; lengths, counts and the PB padding block are computed. */
export interface HeaderFields {
  version: KeyBlockVersion;
  usage: KeyUsage;
  algorithm: Algorithm;
  modeOfUse: ModeOfUse;
  keyVersion?: string;
  exportability: Exportability;
  /** Without PB: the builder adds it when the header needs padding. */
  optionalBlocks?: readonly OptionalBlock[];
}

const FIXED = 16;
const DIGITS4 = /^[0-9]{4}$/;
const DIGITS2 = /^[0-9]{2}$/;
const KEY_VERSION = /^[0-9A-Za-z]{2}$/;

function fail(code: ConstructorParameters<typeof MkmError>[0], field: string, index: number): MkmError {
  return new MkmError(code, undefined, { field, index });
}

/**
 * Parses the header at the start of a whole key block and checks the declared length against
 * the block's real length. Refuses with the code of the first check that fails, in the order
 * the fields are written.
 */
export function parseHeader(block: string): KeyBlockHeader {
  if (block.length < FIXED) throw fail('TR31_LENGTH_MISMATCH', 'block', block.length);
  const version = block[0]!;
  if (!isVersion(version)) throw fail('TR31_VERSION_UNSUPPORTED', 'version', 0);
  const lengthField = block.slice(1, 5);
  if (!DIGITS4.test(lengthField)) throw fail('TR31_HEADER_SYNTAX', 'length', 1);
  const length = Number(lengthField);
  if (length !== block.length) {
    throw new MkmError('TR31_LENGTH_MISMATCH', undefined, { declared: length, actual: block.length });
  }
  const usage = block.slice(5, 7);
  if (!isKeyUsage(usage)) throw fail('TR31_USAGE_UNKNOWN', 'usage', 5);
  const algorithm = block[7]!;
  if (!isAlgorithm(algorithm)) throw fail('TR31_ALGORITHM_UNKNOWN', 'algorithm', 7);
  const modeOfUse = block[8]!;
  if (!isModeOfUse(modeOfUse)) throw fail('TR31_MODE_UNKNOWN', 'modeOfUse', 8);
  const keyVersion = block.slice(9, 11);
  if (!KEY_VERSION.test(keyVersion)) throw fail('TR31_HEADER_SYNTAX', 'keyVersion', 9);
  const exportability = block[11]!;
  if (!isExportability(exportability)) throw fail('TR31_EXPORTABILITY_UNKNOWN', 'exportability', 11);
  const count = block.slice(12, 14);
  if (!DIGITS2.test(count)) throw fail('TR31_HEADER_SYNTAX', 'optionalBlockCount', 12);
  if (block.slice(14, 16) !== '00') throw fail('TR31_HEADER_SYNTAX', 'reserved', 14);
  const { blocks, end } = parseOptionalBlocks(block, FIXED, Number(count));
  if (end % blockSizeOf(version) !== 0) throw fail('TR31_PADDING_INVALID', 'header', end);
  return {
    version,
    length,
    usage,
    algorithm,
    modeOfUse,
    keyVersion,
    exportability,
    optionalBlocks: blocks,
    text: block.slice(0, end),
  };
}

/**
 * Builds the header text for a block of `bodyLength` characters after the header (encrypted
 * key data and MAC, in hex). Adds a PB block of `padChar` when the optional blocks do not
 * end on the version's cipher block size, as X9.143 6.3.6 requires.
 */
export function buildHeader(fields: HeaderFields, bodyLength: number, padChar = '0'): KeyBlockHeader {
  const keyVersion = fields.keyVersion ?? '00';
  if (!KEY_VERSION.test(keyVersion)) throw fail('TR31_HEADER_SYNTAX', 'keyVersion', 9);
  const given = fields.optionalBlocks ?? [];
  if (given.some((b) => b.id === 'PB')) throw fail('TR31_OPTIONAL_BLOCK_MALFORMED', 'PB', 0);
  for (const b of given) if (b.id === 'KC' || b.id === 'KP') parseKcvBlock(b);
  const blocks = [...given];
  let optional = blocks.map(encodeOptionalBlock).join('');
  const size = blockSizeOf(fields.version);
  const misaligned = (FIXED + optional.length) % size;
  if (misaligned !== 0) {
    // The PB block's own ID and length take 4 characters: pad so the whole header lines up.
    const padLength = (((size - misaligned - 4) % size) + size) % size;
    blocks.push({ id: 'PB', data: padChar.repeat(padLength) });
    optional += encodeOptionalBlock(blocks[blocks.length - 1]!);
  }
  if (blocks.length > 99) throw fail('TR31_OPTIONAL_BLOCK_MALFORMED', 'count', 12);
  const length = FIXED + optional.length + bodyLength;
  if (length > 9999) throw fail('TR31_LENGTH_MISMATCH', 'length', 1);
  const text =
    fields.version +
    String(length).padStart(4, '0') +
    fields.usage +
    fields.algorithm +
    fields.modeOfUse +
    keyVersion +
    fields.exportability +
    String(blocks.length).padStart(2, '0') +
    '00' +
    optional;
  return parseHeader(text + '0'.repeat(bodyLength));
}

/** The KC (the wrapped key's) and KP (the KBPK's) check value blocks, when present. */
export function kcvBlocksOf(header: KeyBlockHeader): { KC?: KcvBlock; KP?: KcvBlock } {
  const out: { KC?: KcvBlock; KP?: KcvBlock } = {};
  for (const b of header.optionalBlocks) {
    if (b.id === 'KC' || b.id === 'KP') out[b.id] = parseKcvBlock(b);
  }
  return out;
}
