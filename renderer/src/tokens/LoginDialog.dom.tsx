import * as Dialog from '@radix-ui/react-dialog';
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import type { MkmError } from '../../../shared/errors.std';
import type { SlotSummary } from '../../../shared/tokens.std';
import { asMkmError, mkm } from '../api.dom';
import { DemoBadge, DialogContent, PinField, takePin } from '../ui/bits.dom';
import { pinWarningFromError, pinWarningFromFlags } from './pinWarning.dom';
import { tokenKeys, tokenLabel, useTokens } from './TokenContext.dom';

/**
 * Log in to a token. The PIN stays in the masked input until the one login call, which reads and
 * blanks it; it is never React state, never in a query key, never logged. Closing the dialog
 * unmounts the input, and with it whatever was typed.
 */
export function LoginDialog() {
  const { loginSlotId, closeLogin, slots } = useTokens();
  const slot = slots.data?.find((s) => s.slotId === loginSlotId) ?? null;
  return (
    <Dialog.Root open={loginSlotId !== null} onOpenChange={(open) => !open && closeLogin()}>
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <DialogContent className="dialog" aria-describedby="login-desc">
          {slot ? <LoginForm slot={slot} onDone={closeLogin} /> : <Dialog.Title>Log in</Dialog.Title>}
        </DialogContent>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

function LoginForm({ slot, onDone }: { slot: SlotSummary; onDone: () => void }) {
  const queryClient = useQueryClient();
  const { isDemoSlot } = useTokens();
  const [pending, setPending] = useState<'pin' | 'pad' | null>(null);
  const [error, setError] = useState<MkmError | null>(null);
  const flags = slot.token?.flags;
  const pinPad = flags?.protectedAuthenticationPath ?? false;
  // CKF_LOGIN_REQUIRED clear (NSS with an empty password): used without a PIN, none is asked.
  const noLogin = flags !== undefined && !flags.loginRequired;
  const warning = pinWarningFromError(error) ?? pinWarningFromFlags(flags);
  const isLocked = warning?.kind === 'locked';

  const login = async (pin: string | undefined) => {
    setPending(pin === undefined ? 'pad' : 'pin');
    setError(null);
    try {
      await mkm().tokens.login(pin === undefined ? { slotId: slot.slotId } : { slotId: slot.slotId, pin });
      onDone();
      void queryClient.invalidateQueries({ queryKey: tokenKeys.list });
      void queryClient.invalidateQueries({ queryKey: ['keys'] });
    } catch (e) {
      const err = asMkmError(e);
      setError(err);
      setPending(null);
      if (err.code === 'ALREADY_LOGGED_IN') {
        await queryClient.invalidateQueries({ queryKey: tokenKeys.list });
        onDone();
        return;
      }
      // The token's retry flags changed: show them everywhere.
      void queryClient.invalidateQueries({ queryKey: tokenKeys.list });
    }
  };

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (noLogin) return void login(undefined);
    const pin = takePin(e.currentTarget, 'pin');
    if (!pin) return;
    void login(pin);
  };

  return (
    <form onSubmit={submit} aria-busy={pending !== null}>
      <Dialog.Title className="dialog-title">
        Log in to {tokenLabel(slot)} {isDemoSlot(slot) && <DemoBadge />}
      </Dialog.Title>
      {noLogin ? (
        <Dialog.Description id="login-desc" className="muted" data-testid="login-no-pin">
          This token needs no login: it grants its use without a PIN, so none is asked for. Anyone who can run
          mkm on this computer can use its keys.
        </Dialog.Description>
      ) : (
        <Dialog.Description id="login-desc" className="muted">
          Enter the user PIN of this token{pinPad ? ', or use the PIN pad of the reader' : ''}. The PIN is
          sent to the token once and not kept.
        </Dialog.Description>
      )}
      {error && !warning && (
        <div role="alert" className="notice notice-error">
          <span>
            <strong>{error.message}</strong> <code className="code-chip">{error.code}</code>
          </span>
        </div>
      )}
      {warning && (
        <div role="alert" className={`notice notice-${warning.level}`} data-pin-warning={warning.kind}>
          <span>
            {error && (
              <>
                <strong>{error.message}</strong> <code className="code-chip">{error.code}</code>{' '}
              </>
            )}
            {warning.text}
          </span>
        </div>
      )}
      {!isLocked && !noLogin && (
        <>
          <PinField
            name="pin"
            label="User PIN"
            autoFocus={!pinPad}
            {...(isDemoSlot(slot) ? { describedBy: 'login-demo-pin' } : {})}
          />
          {isDemoSlot(slot) && (
            // The demo token's PINs are published (it protects nothing): said where it is typed.
            <p id="login-demo-pin" className="notice notice-info" data-testid="demo-pin">
              Demo token: the user PIN is <strong className="mono">123456</strong>.
            </p>
          )}
          <p className="muted small">
            {slot.token ? `${slot.token.minPinLen}–${slot.token.maxPinLen} characters.` : ''}
          </p>
        </>
      )}
      {pending === 'pad' && !noLogin && (
        <p role="status" className="notice notice-info">
          Enter your PIN on the reader’s PIN pad now…
        </p>
      )}
      <div className="dialog-actions">
        <Dialog.Close asChild>
          <button type="button">Cancel</button>
        </Dialog.Close>
        {pinPad && !isLocked && !noLogin && (
          <button type="button" onClick={() => void login(undefined)} disabled={pending !== null}>
            Use PIN pad
          </button>
        )}
        {!isLocked && (
          <button type="submit" className="primary" disabled={pending !== null}>
            {pending !== null ? 'Logging in…' : noLogin ? 'Use the token' : 'Log in'}
          </button>
        )}
      </div>
    </form>
  );
}
