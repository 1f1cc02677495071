import { describe } from 'vitest';
import { createSoftHsmToken } from '../../helpers/softhsm';
import { tr31OpsSuite } from './tr31-ops-suite';

/** TR-31 key blocks on two fresh SoftHSM2 tokens of one store (issue 11 point 4). */
describe('TR-31 key blocks on SoftHSM2', () => {
  tr31OpsSuite(async () => {
    const hsm = createSoftHsmToken({ label: 'tr31', slots: 2 });
    return {
      name: 'SoftHSM2',
      modulePath: hsm.modulePath,
      slotId: hsm.slotId,
      slotB: hsm.tokens[1]!.slotId,
      userPin: hsm.userPin,
      env: hsm.env,
      oaep: 'host',
      xor: 'host',
      stop: () => hsm.cleanup(),
    };
  });
});
