import { describe } from 'vitest';
import { acquireOpenCryptoki } from '../../helpers/opencryptoki';
import { componentOpsSuite } from './component-ops-suite';

/**
 * The same on openCryptoki's software token: one per machine, taken under the helper's lock and
 * re-made (erased) for this run.
 */
describe('key components on openCryptoki (swtok)', () => {
  componentOpsSuite(async () => {
    const ock = await acquireOpenCryptoki();
    try {
      const token = await ock.remake('mkm-ceremony');
      return {
        name: 'openCryptoki',
        modulePath: token.modulePath,
        slotId: token.slotId,
        userPin: token.userPin,
        env: process.env,
        oaep: 'token',
        stop: () => ock.release(),
      };
    } catch (error) {
      ock.release();
      throw error;
    }
  });
});
