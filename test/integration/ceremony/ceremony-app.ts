import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from '../../../electron/core/app.nodejs';
import { openApp } from '../../helpers/app';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import type { CeremonyView } from '../../../shared/contract/ceremony.std';
import { FORM, PEOPLE, ok, passphrase } from '../faults/ceremony-drive';

/** The app as browser mode runs it on a fresh SoftHSM2 token, logged in, with a ceremony signing key. */
export interface CeremonyApp {
  hsm: SoftHsmToken;
  dataDir: string;
  app: App;
  signingKeyId: string;
  close(): Promise<void>;
}

/** Logs in to the token and makes the key that signs the transcripts, through the app's channels: its id. */
export async function logInWithSigningKey(
  app: App,
  hsm: Pick<SoftHsmToken, 'slotId' | 'userPin'>,
  type: 'rsa-2048' | 'rsa-3072' = 'rsa-2048',
): Promise<string> {
  await ok(app, 'tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });
  const signer = await ok<{ id: string }>(app, 'keys.generate', {
    slotId: hsm.slotId,
    type,
    label: 'ceremony signer',
    purpose: 'signing',
  });
  return signer.id;
}

export async function openCeremonyApp(label: string): Promise<CeremonyApp> {
  const hsm = createSoftHsmToken({ label });
  const dataDir = mkdtempSync(join(tmpdir(), `mkm-${label}-`));
  const app = openApp(dataDir, hsm.modulePath, { watchSlots: false });
  return {
    hsm,
    dataDir,
    app,
    signingKeyId: await logInWithSigningKey(app, hsm),
    close: async () => {
      await app.close();
      hsm.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A form-key ceremony started on the bench's token, everyone in PEOPLE enrolled: its id. */
export async function startedWithPeople(bench: CeremonyApp): Promise<string> {
  const { app, hsm, signingKeyId } = bench;
  const c = await ok<CeremonyView>(app, 'ceremony.start', { params: FORM, slotId: hsm.slotId, signingKeyId });
  for (const who of PEOPLE) {
    await ok(app, 'ceremony.enroll', {
      id: c.id,
      ...who,
      passphrase: passphrase(who.name),
      acknowledged: true,
    });
  }
  return c.id;
}
