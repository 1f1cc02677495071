import { describe } from 'vitest';
import { createSoftHsmToken } from '../../helpers/softhsm';
import { componentCeremonySuite } from './component-ceremony-suite';

describe('key component ceremonies on SoftHSM2', () => {
  componentCeremonySuite(async () => {
    const hsm = createSoftHsmToken({ label: 'ceremony' });
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
