import { describe } from 'vitest';
import { shareOpsSuite } from './share-ops-suite';
import { softHsmSuiteToken } from './suite-tokens';

describe('M-of-N share ops on SoftHSM2', () => {
  shareOpsSuite(() => softHsmSuiteToken('share-ops'));
});
