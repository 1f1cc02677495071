import { describe } from 'vitest';
import { componentOpsSuite } from './component-ops-suite';
import { softHsmSuiteToken } from './suite-tokens';

/** Forming and splitting keys from components on a fresh SoftHSM2 token (issue 11 point 3). */
describe('key components on SoftHSM2', () => {
  componentOpsSuite(() => softHsmSuiteToken('ceremony-ops'));
});
