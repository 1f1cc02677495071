// Token and key types shared by the contract, main and the HSM host. They live with the PKCS#11
// layer that defines them; this module is how shared/ and the renderer reach them.
// eslint-disable-next-line no-restricted-imports -- pure types; moves here once the PKCS#11 layer settles
export * from '../electron/hsm/pkcs11/types.std';
