import type { MkmError } from '../../../shared/errors.std';
import type { TokenFlags } from '../../../shared/tokens.std';

export interface PinWarning {
  level: 'warning' | 'error';
  kind: 'count-low' | 'final-try' | 'locked';
  text: string;
}

/**
 * What a wrong PIN means for the next try, from the error's details (what the token said right
 * after it), most severe first: locked, then final try, then few tries left.
 */
export function pinWarningFromError(error: MkmError | null): PinWarning | null {
  if (!error) return null;
  const d = error.details ?? {};
  if (error.code === 'PIN_LOCKED' || d.locked === true) return locked('user');
  if (error.code !== 'PIN_INCORRECT') return null;
  if (d.finalTry === true)
    return {
      level: 'error',
      kind: 'final-try',
      text: 'Final try: one more wrong PIN locks the token. Check the PIN before you try again.',
    };
  if (d.countLow === true)
    return {
      level: 'warning',
      kind: 'count-low',
      text: 'Few tries left: after a few more wrong PINs the token locks.',
    };
  return null;
}

/** The same, from the token's flags (before any try in this dialog). */
export function pinWarningFromFlags(
  flags: TokenFlags | undefined,
  who: 'user' | 'so' = 'user',
): PinWarning | null {
  if (!flags) return null;
  const [isLocked, finalTry, countLow] =
    who === 'user'
      ? [flags.userPinLocked, flags.userPinFinalTry, flags.userPinCountLow]
      : [flags.soPinLocked, flags.soPinFinalTry, flags.soPinCountLow];
  if (isLocked) return locked(who);
  if (finalTry)
    return {
      level: 'error',
      kind: 'final-try',
      text: `The token says this is the final try for the ${who === 'user' ? 'user' : 'security officer'} PIN: a wrong PIN locks it.`,
    };
  if (countLow)
    return {
      level: 'warning',
      kind: 'count-low',
      text: `The token says a wrong ${who === 'user' ? 'user' : 'security officer'} PIN was entered recently: few tries are left.`,
    };
  return null;
}

function locked(who: 'user' | 'so'): PinWarning {
  return {
    level: 'error',
    kind: 'locked',
    text:
      who === 'user'
        ? 'The user PIN is locked after too many wrong tries. No PIN will work until a security officer sets a new user PIN (Tokens → Security officer → Set user PIN).'
        : 'The security officer PIN is locked. The token must be re-initialized by its vendor tools, which erases it.',
  };
}
