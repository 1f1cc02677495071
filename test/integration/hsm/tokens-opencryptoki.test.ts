import { describe } from 'vitest';
import { acquireOpenCryptoki } from '../../helpers/opencryptoki';
import { tokenSuite } from '../../helpers/token-suite';

/**
 * openCryptoki's software token (Debian opencryptoki) through the suite every implementation
 * passes (token-suite.ts). The swtok token is one per machine: taken under the helper's lock.
 */
describe('openCryptoki (swtok)', () => {
  tokenSuite(async () => {
    const ock = await acquireOpenCryptoki();
    try {
      const token = await ock.remake('mkm-suite');
      return {
        name: 'openCryptoki',
        modulePath: token.modulePath,
        slotId: token.slotId,
        userPin: token.userPin,
        env: process.env,
        pkcs11Tool: true,
        stop: () => ock.release(),
      };
    } catch (error) {
      ock.release();
      throw error;
    }
  });
});
