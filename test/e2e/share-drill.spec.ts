import { createHash, randomBytes } from 'node:crypto';
import { expect } from '@playwright/test';
import { kcv } from '../../electron/crypto/kcv.nodejs';
import { KEK_BACKUP_FORMAT, kekBackupText, type KekBackupRecord } from '../../shared/ceremony/share-ops.std';
import { backupToRecord } from '../../shared/formats/shares/backup-record.std';
import { encodeShareText, parseShareText } from '../../shared/formats/shares/share-text.std';
import { splitKey } from '../../shared/formats/shares/split.std';
import { test } from './fixtures';
import {
  CARL,
  ceremonyScreen as screen,
  CORA,
  currentStep,
  enrolAndIdentify,
  openCeremonyWithSigner,
  prove,
  stepPanel,
  WITNESS,
} from './helpers/ceremony';

/**
 * A share drill through the Ceremony screen in browser mode: the backup record loaded as the
 * script's parameter, each custodian's share typed masked (a mistyped line named before anything
 * is sent), checked on the token host against the commitments without recovering the key: the
 * good share reported good, an altered one named bad, and the screen cleared between custodians.
 * The drill needs no key on the token: the backup here is made by the test with the same code.
 */

const KEY = Uint8Array.from(randomBytes(32));
const split = splitKey(KEY, { threshold: 2, count: 2 }, (n) => Uint8Array.from(randomBytes(n)));
const record: KekBackupRecord = {
  format: KEK_BACKUP_FORMAT,
  version: 1,
  backup: backupToRecord(split.backup) as KekBackupRecord['backup'],
  key: {
    keyType: 'aes-256',
    kcvs: [
      { method: 'legacy', kcv: kcv('aes-256', KEY, 'legacy').kcv },
      { method: 'cmac', kcv: kcv('aes-256', KEY, 'cmac').kcv },
    ],
    id: 'abcd',
    label: 'zone kek',
  },
  ceremonyId: 'e2e',
  commitmentsSha256: createHash('sha256').update(Buffer.concat(split.backup.commitments)).digest('hex'),
};
const TEXTS = split.shares.map(encodeShareText);

function altered(text: string): string {
  const share = parseShareText(text);
  share.value[100]! ^= 0x01;
  return encodeShareText(share);
}

test('a share drill: the backup record loaded, each share typed masked and checked, an altered one named bad', async ({
  app,
}) => {
  await openCeremonyWithSigner(app, 'drill-signer-e2e');

  const card = screen(app).getByRole('region', { name: 'New ceremony' });
  await card.getByLabel('Template').selectOption('share-drill');
  await card.getByLabel('Backup record (.kek-backup.json)').fill(kekBackupText(record));
  // The counts follow the record.
  await expect(card.getByTestId('backup-record-status')).toContainText('2 of 2 shares, aes-256');
  await expect(card.getByLabel('Shares')).toHaveValue('2');
  await expect(card.getByLabel('Transcript signing key')).toContainText('drill-signer-e2e');
  await card.getByRole('button', { name: 'Review the script' }).click();
  const review = card.getByRole('region', { name: 'Script for review' });
  await expect(review.getByRole('heading')).toHaveText('Drill: check 2 shares without recovering the key');
  await review.getByRole('button', { name: 'Start the ceremony' }).click();
  await enrolAndIdentify(app);

  for (const [index, custodian, text, verdict] of [
    [1, CORA, TEXTS[0]!, 'good'],
    [2, CARL, altered(TEXTS[1]!), 'bad'],
  ] as const) {
    await expect(currentStep(app)).toHaveAttribute('data-step', `drill-share-${index}`);
    const panel = stepPanel(app);
    await prove(panel, custodian, WITNESS);
    const field = panel.getByLabel(`Custodian ${index}’s share`, { exact: true });
    await expect(field).toHaveClass(/cer-masked/);
    const button = panel.getByRole('button', { name: `Check custodian ${index}’s share` });
    // A digit mistyped on line 03 is named there, and nothing can be sent.
    const lines = text.split('\n');
    lines[5] = lines[5]!.replace(/^03 {2}(.)/, (_, d: string) => `03  ${d === '0' ? '1' : '0'}`);
    await field.fill(lines.join('\n'));
    await expect(panel.getByTestId('share-progress')).toContainText('Line 03');
    await expect(button).toBeDisabled();
    await field.fill(text);
    await expect(panel.getByTestId('share-progress')).toContainText(
      `Share ${index} of 2 (threshold 2), backup ${record.backup.backupId.slice(0, 8)}…: every line checks.`,
    );
    await button.click();
    const result = panel.getByTestId('share-result');
    await expect(result).toContainText(verdict);
    if (verdict === 'bad') await expect(result).toContainText('SHARE_COMMITMENT_MISMATCH');
    await result.getByRole('button', { name: 'Clear the screen for the next step' }).click();
    // Nothing of this share is left on the screen for the next custodian.
    const html = await screen(app).innerHTML();
    expect(html).not.toContain(lines[8]!.slice(4, 23));
  }
  await expect(currentStep(app)).toHaveAttribute('data-step', 'sign-off');
  // What the drill recorded: share 1 good, share 2 bad by its commitment, so the backup is not recoverable.
  const recorded = screen(app).getByRole('region', { name: 'Recorded so far' });
  await expect(recorded).toContainText('share1good');
  await expect(recorded).toContainText('share2badshare2ProblemSHARE_COMMITMENT_MISMATCH');
  await expect(recorded).toContainText('drillRecoverablefalse');
});
