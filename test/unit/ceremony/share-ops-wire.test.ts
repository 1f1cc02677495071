import { constants, createHash, generateKeyPairSync, privateDecrypt, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EMPTY_PARAMS, paramsFromForm } from '../../../renderer/src/ceremony/ceremonyModel.dom';
import {
  backupRecordOf,
  describeShareTyping,
  encryptShareText,
  revealedShareText,
} from '../../../renderer/src/ceremony/shareField.dom';
import { encryptTo, makeRevealKey } from '../../../renderer/src/ceremony/transport.dom';
import { buildScript, TemplateParamsSchema } from '../../../shared/ceremony/script.std';
import {
  KEK_BACKUP_FORMAT,
  kekBackupText,
  parseKekBackup,
  SHARE_CHUNK_BYTES,
  SHARE_CHUNKS,
  shareChunks,
  shareFromWire,
  shareToWire,
  type KekBackupRecord,
} from '../../../shared/ceremony/share-ops.std';
import { backupToRecord } from '../../../shared/formats/shares/backup-record.std';
import { encodeShareText } from '../../../shared/formats/shares/share-text.std';
import { splitKey } from '../../../shared/formats/shares/split.std';

/** The wire form of a share, the backup record as a script parameter, and the screen's share helpers. */

const split = splitKey(Uint8Array.from(randomBytes(32)), { threshold: 2, count: 3 }, (n) =>
  Uint8Array.from(randomBytes(n)),
);
const record: KekBackupRecord = {
  format: KEK_BACKUP_FORMAT,
  version: 1,
  backup: backupToRecord(split.backup) as KekBackupRecord['backup'],
  key: { keyType: 'aes-256', kcvs: [{ method: 'legacy', kcv: 'a1b2c3' }], id: 'a1a1', label: 'kek' },
  ceremonyId: '00000000-0000-4000-8000-000000000000',
  commitmentsSha256: createHash('sha256').update(Buffer.concat(split.backup.commitments)).digest('hex'),
};
const share = split.shares[1]!;

describe('a share on the wire', () => {
  it('round-trips in chunks that each fit one OAEP-SHA-256 block of a 2048-bit key', () => {
    const wire = shareToWire(share);
    const chunks = shareChunks(wire);
    expect(chunks).toHaveLength(SHARE_CHUNKS);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(SHARE_CHUNK_BYTES);
    expect(shareFromWire(wire)).toEqual(share);
    expect(shareFromWire(wire.subarray(1))).toBeNull();
    const other = Uint8Array.from(wire);
    other[0] = 2;
    expect(shareFromWire(other)).toBeNull();
  });
});

describe('the backup record', () => {
  it('is read back strictly: an extra field, a damaged commitment or no JSON is refused naming where', () => {
    expect(parseKekBackup(kekBackupText(record))).toEqual(record);
    const extra = { ...record, share: 'x' };
    expect(() => parseKekBackup(JSON.stringify(extra))).toThrow(
      expect.objectContaining({ code: 'SHARE_COMMITMENTS_INVALID' }),
    );
    const damaged = structuredClone(record);
    damaged.backup.commitments[0] = 'zz' + damaged.backup.commitments[0]!.slice(2);
    expect(() => parseKekBackup(JSON.stringify(damaged))).toThrow(
      expect.objectContaining({ details: { field: 'backup.commitments.0' } }),
    );
    expect(() => parseKekBackup('{')).toThrow(expect.objectContaining({ code: 'SHARE_COMMITMENTS_INVALID' }));
  });

  it('is a recovery’s and a drill’s parameter, whose counts must be the record’s', () => {
    const params = TemplateParamsSchema.parse({
      template: 'share-drill',
      shares: 3,
      threshold: 2,
      backup: record,
    });
    expect(buildScript(params).steps.filter((s) => s.kind === 'drill-share')).toHaveLength(3);
    const recover = { template: 'kek-recover', shares: 3, threshold: 3, label: 'k', backup: record } as const;
    expect(() => buildScript(TemplateParamsSchema.parse(recover))).toThrow(RangeError);
    expect(TemplateParamsSchema.safeParse({ template: 'share-drill', shares: 3, threshold: 2 }).success).toBe(
      false,
    );
  });

  it('comes from the form as the file’s text; anything else names the field', () => {
    const form = { ...EMPTY_PARAMS, template: 'share-drill' as const, shares: '3', threshold: '2' };
    expect(paramsFromForm({ ...form, backup: kekBackupText(record) })).toEqual({
      ok: true,
      params: { template: 'share-drill', shares: 3, threshold: 2, backup: record },
    });
    const refused = paramsFromForm({ ...form, backup: 'not a record' });
    expect(refused).toMatchObject({ ok: false, message: expect.stringContaining('backup record') });
    expect(backupRecordOf('not a record')).toBeNull();
  });
});

describe('the screen’s share field', () => {
  const text = encodeShareText(share);

  it('names a whole share by number, and a mistyped line by where it is', () => {
    expect(describeShareTyping(text)).toMatchObject({ state: 'ok', index: 2, count: 3, threshold: 2 });
    const lines = text.split('\n');
    lines[5] = lines[5]!.replace(/ ([0-9a-f])/, (_, d: string) => ` ${d === '0' ? '1' : '0'}`);
    const typo = describeShareTyping(lines.join('\n'));
    expect(typo).toMatchObject({ state: 'problem', message: expect.stringContaining('Line 03') });
    expect(describeShareTyping('')).toEqual({ state: 'empty' });
  });

  it('sends the share only as chunks to the transport key, that the key’s holder reads back', async () => {
    const transport = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const pem = transport.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const chunks = await encryptShareText(pem, text);
    expect(chunks).toHaveLength(SHARE_CHUNKS);
    const wire = Buffer.concat(
      chunks.map((c) =>
        privateDecrypt(
          { key: transport.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
          Buffer.from(c, 'base64'),
        ),
      ),
    );
    expect(shareFromWire(Uint8Array.from(wire))).toEqual(share);
  });

  it('shows a revealed share as its printable text, from chunks to the page’s own key', async () => {
    const { publicPem, privateKey } = await makeRevealKey();
    const wire = shareToWire(share);
    const joined = (await Promise.all(shareChunks(wire).map((c) => encryptTo(publicPem, c)))).join(',');
    expect(await revealedShareText(privateKey, joined)).toBe(text);
  }, 30_000);
});
