import { describe } from 'vitest';
import { nssUnavailable } from '../../helpers/nss';
import { componentCeremonySuite } from './component-ceremony-suite';
import { nssSuiteToken } from './suite-tokens';

/** Ceremonies on NSS softokn, which XORs AES components on the token: the transcript says so. */
const unavailable = nssUnavailable();
if (unavailable) console.warn(`NSS softokn ceremony suite skipped: ${unavailable}`);
describe.skipIf(unavailable !== null)('key component ceremonies on NSS softokn', () => {
  componentCeremonySuite(nssSuiteToken);
});
