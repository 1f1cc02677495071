import { existsSync } from 'node:fs';
import type { WellKnownModule } from '../../../shared/tokens.std';

/**
 * Where the common PKCS#11 libraries install themselves, per OS. The list only suggests: the
 * admin picks one (or browses to another), and loadModule checks it is really a PKCS#11 library.
 */
type Platform = 'linux' | 'darwin' | 'win32';

type Candidate = Omit<WellKnownModule, 'path'> & { paths: string[] };

const CANDIDATES: Record<Platform, Candidate[]> = {
  linux: [
    {
      name: 'OpenSC',
      vendor: 'OpenSC',
      paths: [
        '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so',
        '/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so',
        '/usr/lib64/opensc-pkcs11.so',
        '/usr/lib/opensc-pkcs11.so',
        '/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so',
      ],
    },
    {
      name: 'SoftHSM2',
      vendor: 'SoftHSM project',
      paths: [
        '/usr/lib/softhsm/libsofthsm2.so',
        '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
        '/usr/lib64/pkcs11/libsofthsm2.so',
        '/usr/local/lib/softhsm/libsofthsm2.so',
      ],
    },
    {
      name: 'YubiKey PIV (ykcs11)',
      vendor: 'Yubico',
      paths: [
        '/usr/lib/x86_64-linux-gnu/libykcs11.so',
        '/usr/lib64/libykcs11.so',
        '/usr/local/lib/libykcs11.so',
      ],
    },
    {
      name: 'SafeNet eToken / Luna client',
      vendor: 'Thales',
      paths: ['/usr/lib/libeTPkcs11.so', '/usr/lib/libIDPrimePKCS11.so'],
    },
    { name: 'Thales Luna HSM', vendor: 'Thales', paths: ['/usr/safenet/lunaclient/lib/libCryptoki2_64.so'] },
    {
      name: 'Nitrokey HSM (via OpenSC sc-hsm)',
      vendor: 'Nitrokey',
      paths: ['/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so', '/usr/lib64/opensc-pkcs11.so'],
    },
    { name: 'Entrust nShield', vendor: 'Entrust', paths: ['/opt/nfast/toolkits/pkcs11/libcknfast.so'] },
    { name: 'Utimaco CryptoServer', vendor: 'Utimaco', paths: ['/opt/utimaco/lib/libcs_pkcs11_R3.so'] },
    { name: 'AWS CloudHSM', vendor: 'Amazon', paths: ['/opt/cloudhsm/lib/libcloudhsm_pkcs11.so'] },
  ],
  darwin: [
    {
      name: 'OpenSC',
      vendor: 'OpenSC',
      paths: ['/Library/OpenSC/lib/opensc-pkcs11.so', '/opt/homebrew/lib/opensc-pkcs11.so'],
    },
    {
      name: 'SoftHSM2',
      vendor: 'SoftHSM project',
      paths: ['/opt/homebrew/lib/softhsm/libsofthsm2.so', '/usr/local/lib/softhsm/libsofthsm2.so'],
    },
    {
      name: 'YubiKey PIV (ykcs11)',
      vendor: 'Yubico',
      paths: ['/usr/local/lib/libykcs11.dylib', '/opt/homebrew/lib/libykcs11.dylib'],
    },
    { name: 'SafeNet eToken', vendor: 'Thales', paths: ['/usr/local/lib/libeTPkcs11.dylib'] },
  ],
  win32: [
    {
      name: 'OpenSC',
      vendor: 'OpenSC',
      paths: [
        'C:\\Program Files\\OpenSC Project\\OpenSC\\pkcs11\\opensc-pkcs11.dll',
        'C:\\Windows\\System32\\opensc-pkcs11.dll',
      ],
    },
    { name: 'SoftHSM2', vendor: 'SoftHSM project', paths: ['C:\\SoftHSM2\\lib\\softhsm2-x64.dll'] },
    {
      name: 'YubiKey PIV (ykcs11)',
      vendor: 'Yubico',
      paths: ['C:\\Program Files\\Yubico\\Yubico PIV Tool\\bin\\libykcs11.dll'],
    },
    { name: 'SafeNet eToken', vendor: 'Thales', paths: ['C:\\Windows\\System32\\eTPKCS11.dll'] },
    { name: 'Thales IDPrime', vendor: 'Thales', paths: ['C:\\Windows\\System32\\IDPrimePKCS11.dll'] },
    {
      name: 'Thales Luna HSM',
      vendor: 'Thales',
      paths: ['C:\\Program Files\\SafeNet\\LunaClient\\cryptoki.dll'],
    },
  ],
};

/** Every candidate for a platform, present or not (pure). */
export function wellKnownModuleCandidates(platform: string): WellKnownModule[] {
  const list = CANDIDATES[platform as Platform] ?? [];
  return list.flatMap(({ paths, ...m }) => paths.map((path) => ({ ...m, path })));
}

/** The candidates that exist on this machine, one entry per file. */
export function wellKnownModules(
  platform: string = process.platform,
  exists: (path: string) => boolean = existsSync,
): WellKnownModule[] {
  const seen = new Set<string>();
  return wellKnownModuleCandidates(platform).filter((m) => {
    if (seen.has(m.path) || !exists(m.path)) return false;
    seen.add(m.path);
    return true;
  });
}
