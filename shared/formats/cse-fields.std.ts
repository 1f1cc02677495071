/** The client-side encrypted fields of gateway-api.md's `/v1/encryption/verify` (PayTrace's names). */
export const CSE_FIELD_NAMES = [
  'encrypted_number',
  'encrypted_csc',
  'encrypted_swipe',
  'encrypted_expiration',
  'encrypted_account_number',
  'encrypted_routing_number',
] as const;
export type CseFieldName = (typeof CSE_FIELD_NAMES)[number];
