import type { CardNetwork } from './card.std';

/**
 * Widely published test PANs for presets in the payload console and sandbox. They pass Luhn
 * and sit in their network's IIN range, so every check here treats them like real cards;
 * gateways' test environments approve them. They are not secrets, and not real accounts.
 * Sources: the PayPal/Braintree and Stripe test-card tables (public developer docs).
 */

export interface TestCard {
  pan: string;
  network: CardNetwork;
  label: string;
  source: 'paypal' | 'stripe';
}

export const TEST_CARDS: readonly TestCard[] = [
  { pan: '4111111111111111', network: 'visa', label: 'Visa', source: 'paypal' },
  { pan: '4012888888881881', network: 'visa', label: 'Visa', source: 'paypal' },
  { pan: '4222222222222', network: 'visa', label: 'Visa (13 digits)', source: 'paypal' },
  { pan: '4242424242424242', network: 'visa', label: 'Visa', source: 'stripe' },
  { pan: '5555555555554444', network: 'mastercard', label: 'Mastercard', source: 'paypal' },
  { pan: '5105105105105100', network: 'mastercard', label: 'Mastercard', source: 'paypal' },
  { pan: '2223003122003222', network: 'mastercard', label: 'Mastercard (2-series)', source: 'stripe' },
  { pan: '378282246310005', network: 'amex', label: 'American Express', source: 'paypal' },
  { pan: '371449635398431', network: 'amex', label: 'American Express', source: 'paypal' },
  { pan: '378734493671000', network: 'amex', label: 'American Express Corporate', source: 'paypal' },
  { pan: '6011111111111117', network: 'discover', label: 'Discover', source: 'paypal' },
  { pan: '6011000990139424', network: 'discover', label: 'Discover', source: 'paypal' },
  { pan: '3530111333300000', network: 'jcb', label: 'JCB', source: 'paypal' },
  { pan: '3566002020360505', network: 'jcb', label: 'JCB', source: 'paypal' },
  { pan: '30569309025904', network: 'diners', label: 'Diners Club (14 digits)', source: 'paypal' },
  { pan: '38520000023237', network: 'diners', label: 'Diners Club (14 digits)', source: 'paypal' },
  { pan: '3056930009020004', network: 'diners', label: 'Diners Club (16 digits)', source: 'stripe' },
  { pan: '6200000000000005', network: 'unionpay', label: 'UnionPay', source: 'stripe' },
  { pan: '6205500000000000004', network: 'unionpay', label: 'UnionPay (19 digits)', source: 'stripe' },
];

/** The test cards of one network, in table order (the first is the usual preset). */
export function testCardsFor(network: CardNetwork): readonly TestCard[] {
  return TEST_CARDS.filter((card) => card.network === network);
}

/** True for a published test PAN, so the console can say "test card" instead of masking a real one. */
export function isTestCard(pan: string): boolean {
  return TEST_CARDS.some((card) => card.pan === pan);
}
