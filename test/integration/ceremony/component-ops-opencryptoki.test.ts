import { describe } from 'vitest';
import { componentOpsSuite } from './component-ops-suite';
import { openCryptokiSuiteToken } from './suite-tokens';

/** The same on openCryptoki's software token. */
describe('key components on openCryptoki (swtok)', () => {
  componentOpsSuite(() => openCryptokiSuiteToken('mkm-ceremony'));
});
