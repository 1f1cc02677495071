import { openApp } from '../../helpers/app';
import type { CeremonyView } from '../../../shared/contract/ceremony.std';
import { FORM, SPLIT, drive, ok } from './ceremony-drive';

/**
 * Child process of the ceremony crash test (ceremony.test.ts): the app as browser mode runs it
 * (its registry, the token host process, SoftHSM2) starts a ceremony and drives it, and SIGKILLs
 * itself the moment the engine reaches MKM_KILL_AT (the engine's `faults` seam, handed in through
 * the app options as nothing in production does). Prints "completed" if it gets to the end alive.
 *
 * env: MKM_DATA, MKM_MODULE, MKM_SLOT, MKM_PIN, MKM_TEMPLATE (form-key | split-key),
 * MKM_SIGNER (the signing key's id), MKM_KILL_AT.
 */
const env = process.env;
const app = openApp(env.MKM_DATA!, env.MKM_MODULE!, {
  watchSlots: false,
  ceremonyFaults: (point) => {
    if (point === env.MKM_KILL_AT) process.kill(process.pid, 'SIGKILL');
  },
});
const slotId = Number(env.MKM_SLOT);
await ok(app, 'tokens.login', { slotId, pin: env.MKM_PIN! });
const started = await ok<CeremonyView>(app, 'ceremony.start', {
  params: env.MKM_TEMPLATE === 'split-key' ? SPLIT : FORM,
  slotId,
  signingKeyId: env.MKM_SIGNER!,
});
await drive(app, started.id);
await app.close();
process.stdout.write('completed\n');
