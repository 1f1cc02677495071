import { abaIssue } from '../formats/aba.std';
import {
  checkPan,
  detectNetwork,
  last4,
  maskPan,
  NETWORK_NAMES,
  panDigits,
  type CardNetwork,
} from '../formats/card.std';
import { validateExpiration } from '../formats/expiration.std';
import { luhnValid } from '../formats/luhn.std';
import { isTestCard } from '../formats/test-cards.std';

/**
 * The payload console's compose checks: pure, so the renderer runs them live as the user types
 * and main runs the same ones before it encrypts. Findings name the field and say in plain
 * words what is wrong; nothing here keeps or returns a clear value except as a mask.
 */

export const COMPOSE_FIELDS = [
  'number',
  'expiration',
  'csc',
  'swipe',
  'accountNumber',
  'routingNumber',
] as const;
export type ComposeFieldName = (typeof COMPOSE_FIELDS)[number];
export type ComposeFields = Partial<Record<ComposeFieldName, string>>;

export const COMPOSE_LABELS: Readonly<Record<ComposeFieldName, string>> = {
  number: 'Card number',
  expiration: 'Expiration',
  csc: 'CVV / CSC',
  swipe: 'Swipe (track data)',
  accountNumber: 'Account number',
  routingNumber: 'Routing number',
};

export type FindingLevel = 'ok' | 'warning' | 'error';

export interface ComposeFinding {
  field: ComposeFieldName;
  level: FindingLevel;
  /** Stable, for tests and the troubleshooter: e.g. luhn, length, aba_checksum, expired. */
  code: string;
  message: string;
}

export interface ComposeReport {
  /** No finding at level error. */
  ok: boolean;
  network: CardNetwork | null;
  networkName: string | null;
  /** The number is one of the networks' published test cards. */
  testCard: boolean;
  findings: ComposeFinding[];
  /** Display forms only (PAN: first six and last four at most). */
  masked: ComposeFields;
}

/** American Express prints a 4-digit CID on the front; every other network a 3-digit code. */
export function cscLength(network: CardNetwork | null): 3 | 4 | null {
  if (network === null) return null;
  return network === 'amex' ? 4 : 3;
}

const MASK = '•';

/** A value as it may appear in history, logs of the console and the UI when not revealed. */
export function maskField(field: ComposeFieldName, value: string): string {
  switch (field) {
    case 'number':
      return maskPan(value, { maskChar: MASK });
    case 'accountNumber': {
      const tail = last4(value);
      return MASK.repeat(Math.max(0, value.length - (tail ? 4 : 0))) + (tail ?? '');
    }
    case 'routingNumber':
      // A routing number names a bank, not a person; the last four are enough to tell tests apart.
      return MASK.repeat(Math.max(0, value.length - 4)) + value.slice(-4);
    case 'expiration':
      return value.replace(/\d/g, MASK);
    case 'csc':
      return MASK.repeat(value.length);
    case 'swipe':
      return `${MASK.repeat(3)} ${value.length} characters`;
  }
}

/**
 * Track 1 (`%B PAN ^ NAME ^ YYMM ...?`) or track 2 (`;PAN = YYMM ...?`), either alone or both
 * as a reader emits them. Returns the PAN inside, or null when it is neither.
 */
export function swipePan(swipe: string): string | null {
  const track1 = /%B(\d{12,19})\^[^^]{2,26}\^\d{4}/.exec(swipe);
  if (track1) return track1[1]!;
  const track2 = /;(\d{12,19})=\d{4}/.exec(swipe);
  return track2 ? track2[1]! : null;
}

function cardFindings(number: string, csc: string | undefined, out: ComposeFinding[]): CardNetwork | null {
  const digits = panDigits(number);
  if (digits === null) {
    out.push({
      field: 'number',
      level: 'error',
      code: 'non_digit',
      message: 'The card number must be digits (spaces and dashes are fine).',
    });
    return null;
  }
  const check = checkPan(digits);
  if (digits.length < 12 || digits.length > 19) {
    out.push({
      field: 'number',
      level: 'error',
      code: 'length',
      message: `A card number has 12 to 19 digits; this one has ${digits.length}.`,
    });
  } else if (!check.luhnOk) {
    out.push({
      field: 'number',
      level: 'error',
      code: 'luhn',
      message: 'The check digit is wrong (Luhn): a digit is mistyped or two are swapped.',
    });
  } else if (check.network === null) {
    out.push({
      field: 'number',
      level: 'warning',
      code: 'network',
      message: 'Passes Luhn, but no known card network issues numbers starting this way.',
    });
  } else if (!check.lengthOk) {
    out.push({
      field: 'number',
      level: 'warning',
      code: 'network_length',
      message: `${NETWORK_NAMES[check.network]} does not issue ${digits.length}-digit numbers.`,
    });
  } else {
    out.push({
      field: 'number',
      level: 'ok',
      code: 'luhn',
      message: `${NETWORK_NAMES[check.network]}, ${digits.length} digits, Luhn check passes.`,
    });
  }
  if (csc !== undefined && csc !== '') cscFinding(csc, check.network, out);
  return check.network;
}

function cscFinding(csc: string, network: CardNetwork | null, out: ComposeFinding[]): void {
  if (!/^\d+$/.test(csc)) {
    out.push({
      field: 'csc',
      level: 'error',
      code: 'non_digit',
      message: 'The security code must be digits.',
    });
    return;
  }
  const expected = cscLength(network);
  if (expected === null) {
    if (csc.length !== 3 && csc.length !== 4)
      out.push({
        field: 'csc',
        level: 'error',
        code: 'length',
        message: 'A security code has 3 or 4 digits.',
      });
    else out.push({ field: 'csc', level: 'ok', code: 'length', message: `${csc.length} digits.` });
  } else if (csc.length !== expected) {
    out.push({
      field: 'csc',
      level: 'error',
      code: 'length',
      message: `${NETWORK_NAMES[network!]} cards have a ${expected}-digit security code, not ${csc.length}.`,
    });
  } else {
    out.push({
      field: 'csc',
      level: 'ok',
      code: 'length',
      message: `${expected} digits, as ${NETWORK_NAMES[network!]} prints it.`,
    });
  }
}

/** Every check on every field given; empty strings count as not given. */
export function checkCompose(fields: ComposeFields, now: Date = new Date()): ComposeReport {
  const { given, findings, network } = composeFindings(fields, now);
  const masked: ComposeFields = {};
  for (const [name, value] of Object.entries(given) as [ComposeFieldName, string][])
    masked[name] = maskField(name, value);
  const digits = given.number !== undefined ? panDigits(given.number) : null;
  return {
    ok: !findings.some((f) => f.level === 'error'),
    network,
    networkName: network ? NETWORK_NAMES[network] : null,
    testCard: digits !== null && isTestCard(digits),
    findings,
    masked,
  };
}

/**
 * The findings of checkCompose alone, without the display forms: what a batch needs of each of
 * its rows (rowProblems), where masking every value only to drop it was a fifth of the checks.
 */
export function composeFindings(
  fields: ComposeFields,
  now: Date = new Date(),
): { given: ComposeFields; findings: ComposeFinding[]; network: CardNetwork | null } {
  const given = Object.fromEntries(
    Object.entries(fields).filter(([, v]) => typeof v === 'string' && v !== ''),
  ) as ComposeFields;
  const findings: ComposeFinding[] = [];
  let network: CardNetwork | null = null;

  if (given.number !== undefined) network = cardFindings(given.number, given.csc, findings);
  else if (given.csc !== undefined) cscFinding(given.csc, null, findings);

  if (given.expiration !== undefined) {
    const exp = validateExpiration(given.expiration, now);
    findings.push(
      exp.ok
        ? { field: 'expiration', level: 'ok', code: 'valid', message: 'A valid, unexpired date.' }
        : {
            field: 'expiration',
            level: exp.issue === 'expired' || exp.issue === 'too_far' ? 'warning' : 'error',
            code: exp.issue,
            message: exp.message.charAt(0).toUpperCase() + exp.message.slice(1) + '.',
          },
    );
  }
  if (given.number !== undefined && given.expiration === undefined) {
    findings.push({
      field: 'expiration',
      level: 'warning',
      code: 'missing',
      message: 'A keyed card number is normally sent with its expiration date.',
    });
  }

  if (given.swipe !== undefined) {
    const pan = swipePan(given.swipe);
    if (pan === null) {
      findings.push({
        field: 'swipe',
        level: 'error',
        code: 'format',
        message: 'Not track 1 (%B…^…^YYMM…?) or track 2 (;PAN=YYMM…?) data.',
      });
    } else if (!luhnValid(pan)) {
      findings.push({
        field: 'swipe',
        level: 'warning',
        code: 'luhn',
        message: 'The card number inside the track fails the Luhn check.',
      });
    } else {
      network ??= detectNetwork(pan);
      findings.push({
        field: 'swipe',
        level: 'ok',
        code: 'format',
        message: 'Track data with a card number that passes Luhn.',
      });
    }
    if (given.number !== undefined) {
      findings.push({
        field: 'swipe',
        level: 'warning',
        code: 'both',
        message: 'A payment carries a keyed number or a swipe, not both.',
      });
    }
  }

  if (given.accountNumber !== undefined) {
    const a = given.accountNumber;
    if (!/^\d+$/.test(a))
      findings.push({
        field: 'accountNumber',
        level: 'error',
        code: 'non_digit',
        message: 'An account number must be digits.',
      });
    else if (a.length < 4 || a.length > 17)
      findings.push({
        field: 'accountNumber',
        level: 'error',
        code: 'length',
        message: `A US bank account number has 4 to 17 digits; this one has ${a.length}.`,
      });
    else
      findings.push({ field: 'accountNumber', level: 'ok', code: 'length', message: `${a.length} digits.` });
  }

  if (given.routingNumber !== undefined) {
    const issue = abaIssue(given.routingNumber);
    const messages = {
      length: 'A routing number has exactly 9 digits.',
      non_digit: 'A routing number must be digits.',
      checksum: 'The ABA check digit is wrong (3-7-1 checksum): a digit is mistyped.',
      prefix: 'The checksum passes but no Federal Reserve routing symbol starts this way.',
    } as const;
    findings.push(
      issue === null
        ? { field: 'routingNumber', level: 'ok', code: 'aba', message: 'ABA checksum passes.' }
        : {
            field: 'routingNumber',
            level: issue === 'prefix' ? 'warning' : 'error',
            code: `aba_${issue}`,
            message: messages[issue],
          },
    );
  }
  if ((given.accountNumber === undefined) !== (given.routingNumber === undefined)) {
    const missing = given.accountNumber === undefined ? 'accountNumber' : 'routingNumber';
    findings.push({
      field: missing,
      level: 'warning',
      code: 'missing',
      message: 'A bank payment needs both the account and the routing number.',
    });
  }

  return { given, findings, network };
}
