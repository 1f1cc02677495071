import { describe } from 'vitest';
import { shareOpsSuite } from './share-ops-suite';
import { openCryptokiSuiteToken } from './suite-tokens';

/** The same on openCryptoki's software token (no AES key wrap: the KEK leaves by AES-CBC-PAD). */
describe('M-of-N share ops on openCryptoki (swtok)', () => {
  shareOpsSuite(() => openCryptokiSuiteToken('mkm-shares'));
});
