import { describe, expect, it } from 'vitest';
import { buildHeader, kcvBlocksOf, parseHeader } from '../../../shared/formats/tr31/header.std';
import { encodeOptionalBlock, parseOptionalBlocks } from '../../../shared/formats/tr31/optional-blocks.std';
import { codeOf } from './tr31-helpers';
import { TR31_2018_A_7_2_1, TR31_2018_A_7_4, X9_143_2021_8_6 } from './tr31-vectors';

/** A header followed by `body` characters, with its length field set to the total. */
function block(header: string, body = 32): string {
  const text = header + '0'.repeat(body);
  return text[0] + String(text.length).padStart(4, '0') + text.slice(5);
}

describe('header fields', () => {
  it('reads the fixed fields of TR-31:2018 A.7.4', () => {
    expect(parseHeader(TR31_2018_A_7_4.block)).toEqual({
      version: 'D',
      length: 112,
      usage: 'P0',
      algorithm: 'A',
      modeOfUse: 'E',
      keyVersion: '00',
      exportability: 'E',
      optionalBlocks: [],
      text: 'D0112P0AE00E0000',
    });
  });

  it('reads an extended-length optional block (the CT block of X9.143 8.6) and the KP block with its method', () => {
    const h = parseHeader(X9_143_2021_8_6.block);
    expect(h.optionalBlocks.map((b) => [b.id, b.data.length])).toEqual([
      ['CT', 0x5cc - 10],
      ['KP', 12],
      ['TS', 0x13 - 4],
      ['PB', 0x11 - 4],
    ]);
    expect(kcvBlocksOf(h)).toEqual({ KP: { method: 'cmac', kcv: '2331550BC9' } });
    expect(h.optionalBlocks[2]!.data).toBe('20200818004100Z');
  });

  it('reads a version A header (to refuse it by name later)', () => {
    expect(parseHeader(TR31_2018_A_7_2_1)).toMatchObject({ version: 'A', usage: 'P0', algorithm: 'T' });
  });

  it.each([
    ['version', 'X0048P0TE00N0000', 'TR31_VERSION_UNSUPPORTED'],
    ['usage', 'D0048Q9TE00N0000', 'TR31_USAGE_UNKNOWN'],
    ['usage in lowercase', 'D0048p0TE00N0000', 'TR31_USAGE_UNKNOWN'],
    ['algorithm', 'D0048P0ZE00N0000', 'TR31_ALGORITHM_UNKNOWN'],
    ['mode of use', 'D0048P0TZ00N0000', 'TR31_MODE_UNKNOWN'],
    ['key version', 'D0048P0TE0-N0000', 'TR31_HEADER_SYNTAX'],
    ['exportability', 'D0048P0TE00X0000', 'TR31_EXPORTABILITY_UNKNOWN'],
    ['optional block count', 'D0048P0TE00N0A00', 'TR31_HEADER_SYNTAX'],
    ['reserved', 'D0048P0TE00N0001', 'TR31_HEADER_SYNTAX'],
  ])('refuses a bad %s with its own code', async (_field, header, code) => {
    expect(await codeOf(() => parseHeader(block(header)))).toBe(code);
  });

  it('refuses a length field that is not four digits', async () => {
    expect(await codeOf(() => parseHeader('D00A8P0TE00N0000' + '0'.repeat(32)))).toBe('TR31_HEADER_SYNTAX');
  });

  it('refuses a declared length that is not the real one, and a block shorter than a header', async () => {
    expect(await codeOf(() => parseHeader(TR31_2018_A_7_4.block + '00'))).toBe('TR31_LENGTH_MISMATCH');
    expect(await codeOf(() => parseHeader(TR31_2018_A_7_4.block.slice(0, -1)))).toBe('TR31_LENGTH_MISMATCH');
    expect(await codeOf(() => parseHeader('D0010P0AE00'))).toBe('TR31_LENGTH_MISMATCH');
  });

  it('refuses a header that does not end on the cipher block size (no or short PB padding)', async () => {
    expect(await codeOf(() => parseHeader(block('D0000P0TE00N0100KS0800604B12345678')))).toBe(
      'TR31_PADDING_INVALID',
    );
    expect(await codeOf(() => parseHeader(block('B0000P0TE00N0100KS0700604B')))).toBe('TR31_PADDING_INVALID');
    // The same blocks, lined up, are accepted: it is the alignment that is refused.
    expect(parseHeader(block('D0000P0TE00N0100KS1000604B12345678')).text).toHaveLength(32);
    expect(parseHeader(block('B0000P0TE00N0100KS0800604B')).text).toHaveLength(24);
  });
});

describe('optional blocks', () => {
  // Malformed cases after the table in knovichikhin/psec tests/test_tr31.py (facts, rewritten).
  it.each([
    ['no block where one is counted', 'D0000P0TE00N0100', 'id'],
    ['an ID that is not alphanumeric', 'D0000P0TE00N0100**04', 'id'],
    ['a length that is not hex', 'D0000P0TE00N0100KS1Y', 'length'],
    ['a length in lowercase hex', 'D0000P0TE00N0100KS0a000000', 'length'],
    ['a length shorter than ID and length', 'D0000P0TE00N0100KS02', 'length_too_small'],
    ['data running past the end', 'D0000P0TE00N0100KSFF', 'past_end'],
    ['an extended length of zero digits', 'D0000P0TE00N0100KS0000', 'extended_length'],
    ['an extended length that does not cover its own fields', 'D0000P0TE00N0100KS000101', 'length_too_small'],
    ['data that is not printable', 'D0000P0TE00N0100KS05\x03', 'not_printable'],
    ['the same ID twice', 'D0000P0TE00N0200KS04KS04', 'duplicate'],
    ['PB before another block', 'D0000P0TE00N0200PB04KS04', 'padding_not_last'],
    ['a KC block of unknown method', 'D0000P0TE00N0100KC0C02ABCDEF', 'kcv_method'],
    ['a legacy KC of 5 bytes', 'D0000P0TE00N0100KC10000123456789', 'kcv_value'],
    ['a CMAC KP of 3 bytes', 'D0000P0TE00N0100KP0C01ABCDEF', 'kcv_value'],
    ['a KCV not in uppercase hex', 'D0000P0TE00N0100KC0C00abcdef', 'kcv_value'],
  ])('refuses %s', async (_what, header, reason) => {
    try {
      parseOptionalBlocks(header, 16, Number(header.slice(12, 14)));
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'TR31_OPTIONAL_BLOCK_MALFORMED', details: { reason } });
    }
  });

  it('encodes short blocks with two hex digits and long ones with the extended form', () => {
    expect(encodeOptionalBlock({ id: 'KS', data: '00604B120F9292800000' })).toBe('KS1800604B120F9292800000');
    const long = encodeOptionalBlock({ id: 'CT', data: 'x'.repeat(300) });
    expect(long.slice(0, 10)).toBe('CT00040136');
    expect(parseOptionalBlocks(long, 0, 1)).toEqual({
      blocks: [{ id: 'CT', data: 'x'.repeat(300) }],
      end: 310,
    });
  });
});

describe('building headers', () => {
  it('writes the fields, counts the optional blocks and pads with PB to the cipher block size', () => {
    const d = buildHeader(
      {
        version: 'D',
        usage: 'P0',
        algorithm: 'T',
        modeOfUse: 'E',
        exportability: 'N',
        optionalBlocks: [{ id: 'KS', data: '00604B120F9292' }],
      },
      64,
    );
    // The same header psec builds for these fields (tests/test_tr31.py, padded AES case).
    expect(d.text).toBe('D0112P0TE00N0200KS1200604B120F9292PB0E0000000000');
    const b = buildHeader(
      {
        version: 'B',
        usage: 'P0',
        algorithm: 'T',
        modeOfUse: 'E',
        exportability: 'N',
        optionalBlocks: [{ id: 'KS', data: '00604B120F9292' }],
      },
      48,
    );
    expect(b.text).toBe('B0088P0TE00N0200KS1200604B120F9292PB0600');
  });

  it('adds no PB when the blocks already line up, and builds what it parses', () => {
    const fields = {
      version: 'B',
      usage: 'B0',
      algorithm: 'T',
      modeOfUse: 'X',
      keyVersion: '12',
      exportability: 'S',
      optionalBlocks: [{ id: 'KS', data: '00604B120F9292800000' }],
    } as const;
    const h = buildHeader(fields, 64);
    expect(h.text).toBe('B0104B0TX12S0100KS1800604B120F9292800000');
    expect(parseHeader(h.text + '0'.repeat(64))).toEqual(h);
  });

  it('refuses a PB block given by the caller, a malformed key version and a malformed KC block', async () => {
    const base = { version: 'D', usage: 'D0', algorithm: 'A', modeOfUse: 'B', exportability: 'E' } as const;
    expect(await codeOf(() => buildHeader({ ...base, optionalBlocks: [{ id: 'PB', data: '00' }] }, 64))).toBe(
      'TR31_OPTIONAL_BLOCK_MALFORMED',
    );
    expect(await codeOf(() => buildHeader({ ...base, keyVersion: '1' }, 64))).toBe('TR31_HEADER_SYNTAX');
    expect(
      await codeOf(() => buildHeader({ ...base, optionalBlocks: [{ id: 'KC', data: '01ABC' }] }, 64)),
    ).toBe('TR31_OPTIONAL_BLOCK_MALFORMED');
  });
});
