import { describe } from 'vitest';
import { componentCeremonySuite } from './component-ceremony-suite';
import { openCryptokiSuiteToken } from './suite-tokens';

describe('key component ceremonies on openCryptoki (swtok)', () => {
  componentCeremonySuite(() => openCryptokiSuiteToken('mkm-ceremony'));
});
