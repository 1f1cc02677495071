import { describe } from 'vitest';
import { componentCeremonySuite } from './component-ceremony-suite';
import { softHsmSuiteToken } from './suite-tokens';

describe('key component ceremonies on SoftHSM2', () => {
  componentCeremonySuite(() => softHsmSuiteToken('ceremony'));
});
