import { describe } from 'vitest';
import { createSoftHsmToken } from '../../helpers/softhsm';
import { tokenSuite } from '../../helpers/token-suite';
import { createTrustedKek } from '../../helpers/trusted-kek';

/** SoftHSM2 (Debian softhsm2) through the suite every implementation passes (token-suite.ts). */
describe('SoftHSM2', () => {
  tokenSuite(async () => {
    const hsm = createSoftHsmToken({ label: 'mkm-suite' });
    return {
      name: 'SoftHSM2',
      modulePath: hsm.modulePath,
      slotId: hsm.slotId,
      userPin: hsm.userPin,
      env: hsm.env,
      pkcs11Tool: true,
      trustedKek: (options) => createTrustedKek(hsm, hsm.slotId, options),
      stop: () => hsm.cleanup(),
    };
  });
});
