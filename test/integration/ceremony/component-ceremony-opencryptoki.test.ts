import { describe } from 'vitest';
import { acquireOpenCryptoki } from '../../helpers/opencryptoki';
import { componentCeremonySuite } from './component-ceremony-suite';

/** The same ceremonies on openCryptoki's swtok (one per machine: under the helper's lock, re-made). */
describe('key component ceremonies on openCryptoki (swtok)', () => {
  componentCeremonySuite(async () => {
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
