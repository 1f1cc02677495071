import { describe } from 'vitest';
import { createSoftHsmToken } from '../../helpers/softhsm';
import { componentOpsSuite } from './component-ops-suite';

/** Forming and splitting keys from components on a fresh SoftHSM2 token (issue 11 point 3). */
describe('key components on SoftHSM2', () => {
  componentOpsSuite(async () => {
    const hsm = createSoftHsmToken({ label: 'ceremony-ops' });
    return {
      name: 'SoftHSM2',
      modulePath: hsm.modulePath,
      slotId: hsm.slotId,
      userPin: hsm.userPin,
      env: hsm.env,
      oaep: 'host',
      stop: () => hsm.cleanup(),
    };
  });
});
