import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { maskedGroups, readTtyLine, StdinLines, type TtyIo } from '../../../electron/cli/ceremony-prompt.cli';
import { readParticipants, sealComponent } from '../../../electron/cli/ceremony-run.cli';

/**
 * What `mkm ceremony form-key` reads from people: the masked component line at a terminal (dots
 * in groups of four, never a digit echoed), stdin lines, the participants file with passphrases
 * taken out of the environment, and a component sealed to the transport key and wiped.
 */

/** A terminal: raw mode recorded, what is typed pushed as data, what is echoed collected. */
function fakeTty(): TtyIo & { typed(text: string): void; shown(): string; raw: boolean[] } {
  const input = new EventEmitter() as EventEmitter & {
    setRawMode(b: boolean): void;
    resume(): void;
    pause(): void;
  };
  const raw: boolean[] = [];
  input.setRawMode = (b) => raw.push(b);
  input.resume = () => {};
  input.pause = () => {};
  let out = '';
  const output = { write: (s: string | Buffer) => ((out += s.toString()), true) };
  return {
    input: input as unknown as NodeJS.ReadStream,
    output: output as unknown as NodeJS.WriteStream,
    typed: (text) => input.emit('data', Buffer.from(text)),
    shown: () => out,
    raw,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'mkm-prompt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the masked component line', () => {
  it('shows dots in groups of four as digits are typed, never a digit, and returns what was typed', async () => {
    expect(maskedGroups(0)).toBe('');
    expect(maskedGroups(5)).toBe('•••• •');
    expect(maskedGroups(8)).toBe('•••• ••••');
    const tty = fakeTty();
    const line = readTtyLine('Component 1: ', 'component', tty);
    tty.typed('0123 4567');
    tty.typed('89ab\x7f\x7fAB');
    tty.typed('\r');
    const bytes = await line;
    expect(bytes.toString()).toBe('0123 456789AB');
    expect(tty.shown()).toContain('Component 1: •••• •••• ••••');
    expect(tty.shown()).not.toMatch(/[0-9A-Fa-f]{2}/);
    expect(tty.raw).toEqual([true, false]);
  });

  it('echoes nothing for a passphrase, and Ctrl-C cancels', async () => {
    const tty = fakeTty();
    const line = readTtyLine('Passphrase: ', 'hidden', tty);
    tty.typed('s3cret words\r');
    expect((await line).toString()).toBe('s3cret words');
    expect(tty.shown()).not.toContain('s3cret');
    const cancelled = fakeTty();
    const pending = readTtyLine('x: ', 'hidden', cancelled);
    cancelled.typed('ab\x03');
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(cancelled.raw).toEqual([true, false]);
  });
});

describe('stdin lines', () => {
  it('reads one line at a time across chunks, CRLF or LF, the last without a newline', async () => {
    const input = new PassThrough();
    const lines = new StdinLines(input);
    input.write('0123 45');
    input.write('67\r\nAB');
    input.end('CD\nlast');
    expect((await lines.next())!.toString()).toBe('0123 4567');
    expect((await lines.next())!.toString()).toBe('ABCD');
    expect((await lines.next())!.toString()).toBe('last');
    expect(await lines.next()).toBeNull();
    await lines.close();
  });
});

describe('the participants file', () => {
  const people = (
    custodians: string[],
    env: (i: number) => string | undefined = (i) => `MKM_UNIT_PASS_${i}`,
  ) => {
    const entry = (name: string, i: number) => ({ name, acknowledged: true, passphraseEnv: env(i) });
    const file = join(dir, `p-${Math.random()}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        administrator: entry('Alice', 0),
        witness: entry('Walter', 1),
        custodians: custodians.map((c, i) => entry(c, i + 2)),
      }),
    );
    return file;
  };

  it('takes each passphrase from its variable and removes the variable from the environment', () => {
    for (let i = 0; i < 4; i++) process.env[`MKM_UNIT_PASS_${i}`] = `passphrase ${i}`;
    const read = readParticipants(people(['Cora', 'Carl']), false);
    expect(read.map((p) => [p.name, p.role, p.custodian, p.passphrase])).toEqual([
      ['Alice', 'administrator', null, 'passphrase 0'],
      ['Walter', 'witness', null, 'passphrase 1'],
      ['Cora', 'custodian', 1, 'passphrase 2'],
      ['Carl', 'custodian', 2, 'passphrase 3'],
    ]);
    // The token host, spawned later, inherits none of them.
    for (let i = 0; i < 4; i++) expect(process.env[`MKM_UNIT_PASS_${i}`]).toBeUndefined();
  });

  it('refuses one person twice, a missing variable, and no variable when stdin is not a terminal', () => {
    for (let i = 0; i < 4; i++) process.env[`MKM_UNIT_PASS_${i}`] = `passphrase ${i}`;
    expect(() => readParticipants(people(['Cora', ' CORA']), false)).toThrow(
      expect.objectContaining({ code: 'CEREMONY_DUAL_CONTROL' }),
    );
    for (let i = 0; i < 3; i++) process.env[`MKM_UNIT_PASS_${i}`] = `passphrase ${i}`;
    delete process.env.MKM_UNIT_PASS_3;
    expect(() => readParticipants(people(['Cora', 'Carl']), false)).toThrow(
      expect.objectContaining({ code: 'USAGE', message: expect.stringContaining('MKM_UNIT_PASS_3') }),
    );
    const none = people(['Cora', 'Carl'], () => undefined);
    expect(() => readParticipants(none, false)).toThrow(expect.objectContaining({ code: 'USAGE' }));
    // At a terminal, whoever has no variable is asked.
    expect(readParticipants(none, true).every((p) => p.passphrase === null)).toBe(true);
  });
});

describe('sealing a component', () => {
  it('encrypts with RSA-OAEP SHA-256 to the transport key and wipes the bytes', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const component = Uint8Array.from(Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex'));
    const sealed = sealComponent(publicKey.export({ type: 'spki', format: 'pem' }).toString(), component);
    expect(component.every((b) => b === 0)).toBe(true);
    const opened = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(sealed, 'base64'),
    );
    expect(opened.toString('hex').toUpperCase()).toBe('0123456789ABCDEFFEDCBA9876543210');
  });
});
