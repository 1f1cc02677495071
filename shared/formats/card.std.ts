import { luhnValid } from './luhn.std';

/**
 * Card networks by IIN (the leading digits), after the networks' published ranges as
 * collected in ISO/IEC 7812 registrations and the networks' acquirer guides. Detection is
 * for display and presets only: the gateway, not the IIN table, decides what it accepts.
 */

export type CardNetwork = 'visa' | 'mastercard' | 'amex' | 'discover' | 'jcb' | 'diners' | 'unionpay';

export const NETWORK_NAMES: Readonly<Record<CardNetwork, string>> = {
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  discover: 'Discover',
  jcb: 'JCB',
  diners: 'Diners Club',
  unionpay: 'UnionPay',
};

interface IinRange {
  network: CardNetwork;
  /** Inclusive bounds of equal digit count; that count is how many leading digits are compared. */
  from: string;
  to: string;
  lengths: readonly number[];
}

const L16_19 = [16, 17, 18, 19] as const;

const RANGES: readonly IinRange[] = [
  { network: 'visa', from: '4', to: '4', lengths: [13, 16, 19] },
  { network: 'mastercard', from: '51', to: '55', lengths: [16] },
  { network: 'mastercard', from: '2221', to: '2720', lengths: [16] },
  { network: 'amex', from: '34', to: '34', lengths: [15] },
  { network: 'amex', from: '37', to: '37', lengths: [15] },
  { network: 'discover', from: '6011', to: '6011', lengths: L16_19 },
  { network: 'discover', from: '644', to: '649', lengths: L16_19 },
  { network: 'discover', from: '65', to: '65', lengths: L16_19 },
  { network: 'jcb', from: '3528', to: '3589', lengths: L16_19 },
  // Carte Blanche and Diners International: 14 digits historically, 16-19 since Discover's takeover.
  { network: 'diners', from: '300', to: '305', lengths: [14, ...L16_19] },
  { network: 'diners', from: '3095', to: '3095', lengths: [14, ...L16_19] },
  { network: 'diners', from: '36', to: '36', lengths: [14, ...L16_19] },
  { network: 'diners', from: '38', to: '39', lengths: [14, ...L16_19] },
  // 622126-622925 also route on the Discover network, but the card is UnionPay-branded.
  { network: 'unionpay', from: '62', to: '62', lengths: L16_19 },
];

const SEPARATORS = /[\s-]/g;

/** The digits of a PAN typed with spaces or dashes; null when anything else is in it. */
export function panDigits(input: string): string | null {
  const digits = input.replace(SEPARATORS, '');
  return /^\d+$/.test(digits) ? digits : null;
}

function rangeMatches(range: IinRange, digits: string): boolean {
  const n = range.from.length;
  if (digits.length < n) return false;
  const head = digits.slice(0, n);
  return head >= range.from && head <= range.to;
}

function bestRange(digits: string): IinRange | null {
  let best: IinRange | null = null;
  for (const range of RANGES) {
    if (rangeMatches(range, digits) && (best === null || range.from.length > best.from.length)) best = range;
  }
  return best;
}

/** The network of a PAN (or of its first digits while someone types); the longest matching prefix wins. */
export function detectNetwork(pan: string): CardNetwork | null {
  const digits = panDigits(pan);
  return digits === null ? null : (bestRange(digits)?.network ?? null);
}

export interface PanCheck {
  network: CardNetwork | null;
  length: number;
  /** The length is one the detected network issues (false when no network was detected). */
  lengthOk: boolean;
  luhnOk: boolean;
}

/** Everything the UI says about a PAN, without keeping or returning the PAN. */
export function checkPan(pan: string): PanCheck {
  const digits = panDigits(pan) ?? '';
  const range = digits ? bestRange(digits) : null;
  return {
    network: range?.network ?? null,
    length: digits.length,
    lengthOk: range !== null && range.lengths.includes(digits.length),
    luhnOk: luhnValid(digits),
  };
}

/** Shortest PAN ISO/IEC 7812 issues; below it a "PAN" is something else and gets no BIN shown. */
const MIN_PAN_LENGTH = 13;
/** The contract's rule for `last4`: only values long enough that 4 digits do not give them away. */
const MIN_LAST4_LENGTH = 8;

export interface MaskOptions {
  /** Show the first six (the BIN), as PCI DSS allows; default true. */
  showBin?: boolean;
  maskChar?: string;
}

/**
 * A PAN for display: at most the first six and the last four (PCI DSS 3.4.1), separators
 * dropped. Shorter values show less, and anything that is not digits is masked whole, so a
 * value pasted into the wrong box is never echoed.
 */
export function maskPan(pan: string, options: MaskOptions = {}): string {
  const mask = options.maskChar ?? '*';
  const digits = panDigits(pan);
  if (digits === null) return mask.repeat(pan.replace(SEPARATORS, '').length);
  const n = digits.length;
  const head = (options.showBin ?? true) && n >= MIN_PAN_LENGTH ? 6 : 0;
  const tail = n >= MIN_LAST4_LENGTH ? 4 : 0;
  return digits.slice(0, head) + mask.repeat(n - head - tail) + digits.slice(n - tail);
}

/** The last four of a card or account number of 8 characters or more (separators ignored), else null. */
export function last4(value: string): string | null {
  const compact = value.replace(SEPARATORS, '');
  return compact.length >= MIN_LAST4_LENGTH ? compact.slice(-4) : null;
}
