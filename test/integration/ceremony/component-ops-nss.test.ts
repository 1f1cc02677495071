import { describe } from 'vitest';
import { nssUnavailable } from '../../helpers/nss';
import { componentOpsSuite } from './component-ops-suite';
import { nssSuiteToken } from './suite-tokens';

/**
 * The same on NSS softokn, the one token here that XORs components itself
 * (CKM_XOR_BASE_AND_DATA): its AES keys are formed on the token, `combinedOn: 'token'`.
 */
const unavailable = nssUnavailable();
if (unavailable) console.warn(`NSS softokn component suite skipped: ${unavailable}`);
describe.skipIf(unavailable !== null)('key components on NSS softokn', () => {
  componentOpsSuite(nssSuiteToken);
});
