import type { FindingSeverity } from '../../../shared/contract/troubleshoot.std';

/**
 * The known ways a payload fails to decrypt, in one table: how the troubleshooter recognises
 * each, what it means in plain words, and how to fix it. Every row has an integration test
 * (test/integration/console/diagnose-failure-modes.test.ts) that produces the failure for real
 * and checks that the diagnosis names that row first.
 */
export interface FailureMode {
  severity: FindingSeverity;
  title: string;
  /** How the engine recognises it (for people reading the table and the tests). */
  recognise: string;
  explanation: string;
  fix: string;
}

export const FAILURE_MODES = {
  // ------------------------------------------------------------------ encoding
  QUOTED_OR_ESCAPED: {
    severity: 'error',
    title: 'The value is still quoted or JSON-escaped',
    recognise: 'Surrounding quotes, or JSON escapes such as \\/ \\n \\u002b inside the value.',
    explanation:
      'The value was copied out of JSON or a log with its quotes or escape sequences, so the gateway sees characters that are not part of the ciphertext.',
    fix: 'Take the value from the parsed JSON (not from its source text), or remove the quotes and turn \\/ back into / before sending.',
  },
  WHITESPACE: {
    severity: 'error',
    title: 'Spaces or line breaks inside the value',
    recognise: 'Whitespace inside base64 or hex text that is otherwise valid without it.',
    explanation:
      'Line breaks (for example from a MIME encoder wrapping at 64 or 76 columns) or spaces are not part of base64; strict gateways refuse them.',
    fix: 'Encode without line wrapping (e.g. base64 -w0, or Buffer.toString("base64")) and do not pretty-print the field.',
  },
  BASE64URL: {
    severity: 'error',
    title: 'URL-safe base64 instead of standard base64',
    recognise: "'-' or '_' in the text; it decodes once they become '+' and '/'.",
    explanation:
      "The ciphertext was encoded with the URL-safe alphabet ('-' and '_'). The gateway expects standard base64 with '+', '/' and '=' padding.",
    fix: "Use standard base64 (not base64url) when encoding the field, and keep the '=' padding.",
  },
  MISSING_PADDING: {
    severity: 'error',
    title: "The '=' padding is missing",
    recognise: "Valid base64 characters whose length is not a multiple of 4, fixed by adding '='.",
    explanation:
      "Base64 text is padded with '=' to a multiple of 4 characters. Some encoders (and JWT-style code) drop it; a strict gateway then refuses the field.",
    fix: "Keep the '=' padding (standard base64 as in RFC 4648 section 4).",
  },
  HEX_ODD_LENGTH: {
    severity: 'error',
    title: 'Hex with an odd number of digits',
    recognise: 'Only hex digits, but an odd count.',
    explanation: 'Every byte is two hex digits; an odd count means a digit was lost (often a leading zero).',
    fix: 'Encode each byte as exactly two digits (pad with a leading 0), and check the value was not cut.',
  },
  HEX_NOT_BASE64: {
    severity: 'warning',
    title: 'Hex where the gateway expects base64',
    recognise: 'Even-length hex digits whose byte length is an RSA modulus length.',
    explanation:
      'The ciphertext is written as hex. The gateway contract (and PayTrace) carry binary values as standard base64.',
    fix: 'Send the same bytes base64-encoded, not hex.',
  },
  NOT_ENCODED: {
    severity: 'error',
    title: 'Not base64 or hex',
    recognise: 'Characters that belong to neither alphabet.',
    explanation:
      'The value is not an encoded ciphertext at all; it may be a clear value, a placeholder or mangled text.',
    fix: 'Paste the field exactly as the merchant server sends it (the base64 ciphertext).',
  },
  DOUBLE_ENCODED: {
    severity: 'error',
    title: 'Encoded twice',
    recognise: 'The decoded bytes are themselves base64 or hex text.',
    explanation:
      'The ciphertext was base64-encoded, and then the base64 text was encoded again. The gateway decodes once and gets text, not a ciphertext.',
    fix: 'Encode the raw ciphertext bytes once.',
  },
  // ------------------------------------------------------------------ length and key
  TRUNCATED: {
    severity: 'error',
    title: 'The ciphertext is cut short',
    recognise: 'Fewer bytes than the modulus of the expected key, and not a whole RSA key size.',
    explanation:
      'An RSA ciphertext is always exactly as long as the key modulus. This one is shorter, so part of it was lost (a column too narrow, a length limit, a copy cut).',
    fix: 'Check the database column or form limit that stores the field (a 2048-bit key gives 344 base64 characters) and copy the whole value.',
  },
  WRONG_KEY_SIZE: {
    severity: 'error',
    title: 'Made with a key of another size',
    recognise: 'The length is a whole RSA key size (128, 256, 384, 512 bytes) but not the pinned key’s.',
    explanation:
      'The length matches an RSA key of another size than the gateway key in use, so the merchant encrypted under a different (often old or test) key.',
    fix: "Download the gateway's current public key and configure the merchant's encryption library with it.",
  },
  // ------------------------------------------------------------------ RSA decryption
  RSA_WRONG_PADDING: {
    severity: 'error',
    title: 'Encrypted with the other RSA padding',
    recognise: 'A token key decrypts it with the padding the profile does not use (PKCS#1 v1.5 vs OAEP).',
    explanation:
      'The field was encrypted with a different RSA padding than the gateway expects, so the gateway cannot decrypt it although the key is right.',
    fix: 'Set the encryption library to the padding of the profile (PayTrace: RSAES-PKCS1-v1_5; OAEP profiles: RSAES-OAEP with SHA-256).',
  },
  RSA_WRONG_KEY: {
    severity: 'error',
    title: 'No known key decrypts it',
    recognise: 'The length is right, but no candidate key on the token decrypts it with either padding.',
    explanation:
      'The ciphertext has the right shape, but it was made with a public key none of the candidate keys matches, or it was altered after encryption.',
    fix: 'Compare the fingerprint of the public key the merchant uses with the one shown here, and re-encrypt with the right key.',
  },
  DOUBLE_ENCRYPTED: {
    severity: 'error',
    title: 'Encrypted twice',
    recognise: 'It decrypts to text that is itself a base64 ciphertext of modulus length.',
    explanation:
      'The field was encrypted, and the resulting ciphertext was encrypted again. One decryption yields another ciphertext instead of the value.',
    fix: 'Encrypt the clear value once; check the merchant code does not run the encryption on an already encrypted field.',
  },
  CSE_PREVIOUS_KEY: {
    severity: 'warning',
    title: "Made with the gateway's previous key",
    recognise: 'The gateway decrypts it only under a key_id listed in previous.',
    explanation:
      'The gateway rotated its public key; it still accepts this field under the old key for a grace period, after which these requests will fail.',
    fix: "Update the merchant's copy of the gateway public key before the previous key's acceptance ends.",
  },
  CSE_NOT_GATEWAY_KEY: {
    severity: 'error',
    title: "The gateway's keys cannot decrypt it",
    recognise: 'The sandbox verify endpoint decrypts it neither under the current nor any previous key_id.',
    explanation:
      'The gateway tried its current key and every previous key it still accepts, and none decrypts the field: it was made with another key, with another padding, or it was altered.',
    fix: "Download the gateway's public key again, check the padding of the profile, and re-encrypt.",
  },
  CLEAR_VALUE: {
    severity: 'error',
    title: 'A card value in clear',
    recognise: 'An encrypted_* member (or the field itself) holds digits, not a ciphertext.',
    explanation:
      'A value that must be encrypted is sent in clear. That is a PCI DSS violation wherever it travels or is logged.',
    fix: 'Encrypt the value with the gateway public key before it leaves the browser or server, and purge logs that may hold it.',
  },
  // ------------------------------------------------------------------ PEM
  PEM_PRIVATE_KEY: {
    severity: 'error',
    title: 'A private key was pasted',
    recognise: 'A PEM or JWK with private key members.',
    explanation:
      'This is a private key: a secret that must never be shared, pasted into tools or sent to support. It was not stored and is not shown here.',
    fix: 'Treat the key as exposed: replace it (generate a new pair, register the new public key) and send only the PUBLIC KEY PEM.',
  },
  PEM_WRONG_ENVIRONMENT: {
    severity: 'error',
    title: 'The public key of another environment',
    recognise:
      "Its fingerprint is another profile's gateway key (for example the sandbox's while production is targeted).",
    explanation:
      'The merchant encrypts with the public key of a different gateway environment, so the targeted gateway cannot decrypt anything.',
    fix: 'Install the public key of the environment the requests go to (compare the fingerprints shown).',
  },
  PEM_PREVIOUS_KEY: {
    severity: 'warning',
    title: "The gateway's previous public key",
    recognise: "Its fingerprint is a key the profile's gateway rotated away from.",
    explanation: 'This key was replaced. The gateway accepts it only for a grace period, or no longer.',
    fix: "Download the gateway's current public key and replace this one.",
  },
  PEM_UNKNOWN_KEY: {
    severity: 'warning',
    title: 'An unknown public key',
    recognise: 'Its fingerprint matches no gateway key pinned in any profile and no token key.',
    explanation:
      'The key is none that this app knows, so a gateway this app talks to cannot decrypt with it.',
    fix: "Fetch the gateway's public key (mkm gateway fetch-key) and compare fingerprints with the merchant's copy.",
  },
  // ------------------------------------------------------------------ key-rolling envelopes
  ENVELOPE_MALFORMED: {
    severity: 'error',
    title: 'The envelope is malformed',
    recognise: 'Members missing, a MAC not 32 bytes, a ciphertext not a whole number of 16-byte blocks.',
    explanation:
      'A key-rolling message is {set_id, ciphertext, mac}; this one cannot be a valid message as it stands.',
    fix: 'Send all three members, base64-encoded, with the 32-byte HMAC-SHA256 and the whole AES-CBC ciphertext.',
  },
  ENVELOPE_SET_UNKNOWN: {
    severity: 'error',
    title: 'Unknown key set',
    recognise: 'The set_id is neither the current set nor one this client used.',
    explanation:
      'The gateway handed out no such set to this client, or it belongs to another merchant or environment.',
    fix: 'Use the set from the last response (next_key_set), or ask for a fresh one (mkm gateway sync).',
  },
  ENVELOPE_SET_USED: {
    severity: 'error',
    title: 'The key set was already used',
    recognise: 'The set_id is in the list of sets this client has sent a message under.',
    explanation:
      'A key set encrypts exactly one message. The gateway answers a second use with KEY_SET_USED.',
    fix: 'Encrypt each message under the set the previous response handed over; never reuse or cache a set.',
  },
  ENVELOPE_SET_EXPIRED: {
    severity: 'error',
    title: 'The key set has expired',
    recognise: "The set_id is the client's set and its expires_at has passed.",
    explanation:
      'Sets expire (15 minutes by default). The gateway answers an expired set with KEY_SET_EXPIRED.',
    fix: 'Ask for a fresh set (POST /v1/encryption/key_sets, or mkm gateway sync) before sending.',
  },
  ENVELOPE_MAC_INVALID: {
    severity: 'error',
    title: 'The MAC does not match',
    recognise: "HMAC-SHA256 verification in the token fails under the set's MAC key.",
    explanation:
      'The message was changed after it was sealed, or the MAC was computed over other bytes than set_id || "." || iv || ciphertext, or with another key.',
    fix: 'Compute the MAC over UTF-8(set_id), one 0x2e byte, the raw IV and the raw ciphertext (not their base64), with the set’s mac_key.',
  },
  ENVELOPE_PADDING: {
    severity: 'error',
    title: 'The MAC is right but the padding is not',
    recognise: 'MAC verified in the token; AES-CBC decryption fails its PKCS#7 padding check.',
    explanation:
      'The message is authentic but was encrypted without PKCS#7 padding (or with zero padding), so decryption cannot tell where it ends.',
    fix: 'Encrypt with AES-256-CBC and PKCS#7 padding (CKM_AES_CBC_PAD, or OpenSSL’s default).',
  },
  ENVELOPE_WRONG_IV: {
    severity: 'error',
    title: 'Encrypted with the wrong IV',
    recognise: 'MAC verified; the first 16-byte block decrypts to garbage while the rest is readable text.',
    explanation:
      'In CBC mode a wrong IV spoils only the first block. The message was encrypted with another IV than the one of its key set.',
    fix: "Use the set's iv for a request (and the response's own iv for a response); never a fresh random IV for a request.",
  },
  // ------------------------------------------------------------------ anything else
  UNRECOGNISED: {
    severity: 'warning',
    title: 'Nothing to diagnose',
    recognise: 'Empty input, or JSON without any member the troubleshooter knows.',
    explanation: 'The input is not a ciphertext, a CSE request body, an envelope or a PEM.',
    fix: 'Paste one of those: a base64 field, the whole JSON body, a {set_id, ciphertext, mac} envelope or a PEM.',
  },
} as const satisfies Record<string, FailureMode>;

export type FailureCode = keyof typeof FAILURE_MODES;
export const FAILURE_CODES = Object.keys(FAILURE_MODES) as FailureCode[];

/** Findings that are good news or context, not failures (no test "produces" them). */
export const INFO_MODES = {
  KIND: { severity: 'info', title: 'What this is' },
  DECRYPTED: { severity: 'ok', title: 'Decrypts with a known key' },
  KEY_MATCH: { severity: 'info', title: 'Which key could have made it' },
  GATEWAY_DECRYPTS: { severity: 'ok', title: 'The gateway decrypts it' },
  ENVELOPE_OK: { severity: 'ok', title: 'The envelope opens' },
  PEM_KNOWN: { severity: 'ok', title: 'A known public key' },
  ENCODING_OK: { severity: 'ok', title: 'Well-formed encoding' },
} as const satisfies Record<string, { severity: FindingSeverity; title: string }>;
export type InfoCode = keyof typeof INFO_MODES;
