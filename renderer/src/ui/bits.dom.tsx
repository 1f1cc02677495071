import * as AlertDialog from '@radix-ui/react-alert-dialog';
import * as Dialog from '@radix-ui/react-dialog';
import {
  useEffect,
  useRef,
  useState,
  type ComponentProps,
  type InputHTMLAttributes,
  type ReactNode,
} from 'react';
import type { MkmError } from '../../../shared/errors.std';
import { asMkmError } from '../api.dom';

/** An error as the admin should see it: the sentence, and the code support will ask for. */
export function ErrorNotice({
  error,
  onRetry,
  children,
}: {
  error: unknown;
  onRetry?: (() => void) | undefined;
  children?: ReactNode;
}) {
  const e: MkmError = asMkmError(error);
  return (
    <div role="alert" className="notice notice-error">
      <span>
        <strong>{e.message}</strong> <code className="code-chip">{e.code}</code>
        {children}
      </span>
      {onRetry && (
        <button type="button" className="push-right" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** The Cancel + action row at the foot of a dialog. Cancel closes it (AlertDialog.Cancel for an
 * alert dialog, Dialog.Close otherwise); while `pending`, both buttons are disabled (Cancel can
 * stay enabled with `cancelDisabled={false}`) and the action shows its `pendingLabel`. */
export function DialogActions({
  kind,
  pending = false,
  cancelLabel = 'Cancel',
  cancelDisabled = pending,
  cancelAutoFocus,
  action,
}: {
  kind: 'alert' | 'dialog';
  pending?: boolean;
  cancelLabel?: string;
  cancelDisabled?: boolean;
  cancelAutoFocus?: boolean;
  action: {
    label: ReactNode;
    pendingLabel?: ReactNode;
    tone: 'primary' | 'danger';
    type: 'submit' | 'button';
    onClick?: () => void;
    disabled?: boolean;
  };
}) {
  const Cancel = kind === 'alert' ? AlertDialog.Cancel : Dialog.Close;
  return (
    <div className="dialog-actions">
      <Cancel asChild>
        <button type="button" disabled={cancelDisabled} autoFocus={cancelAutoFocus}>
          {cancelLabel}
        </button>
      </Cancel>
      <button
        type={action.type}
        className={action.tone}
        disabled={pending || action.disabled}
        onClick={action.onClick}
      >
        {pending && action.pendingLabel !== undefined ? action.pendingLabel : action.label}
      </button>
    </div>
  );
}

const FOCUSABLE = 'button, [href], input, select, textarea, summary, [tabindex]:not([tabindex="-1"])';

function focusables(root: Element): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
    (el) => !el.matches(':disabled') && el.getClientRects().length > 0,
  );
}

/**
 * Where focus goes back when a dialog closes. The dialog's content renders for the first time
 * before it takes focus, so what has focus then is the control that opened it: a Radix trigger,
 * or a button that set some state. When that control is gone or disabled by then (the key it
 * acted on was destroyed, "Log in…" became "Log out"), focus goes to the control that now holds
 * its place in the nearest part of the page that is still there.
 */
function useFocusReturn(): (event: Event) => void {
  const [places] = useState(() => {
    const opener = document.activeElement;
    if (!(opener instanceof HTMLElement) || opener === document.body) return [];
    const found: { root: Element; index: number }[] = [{ root: opener, index: -1 }];
    for (let a = opener.parentElement; a && a !== document.body; a = a.parentElement) {
      found.push({ root: a, index: focusables(a).indexOf(opener) });
    }
    return found;
  });
  return (event) => {
    event.preventDefault();
    const [opener, ...ancestors] = places;
    if (!opener) return;
    const back = opener.root as HTMLElement;
    if (back.isConnected && focusables(back.parentElement ?? document.body).includes(back)) {
      back.focus();
      return;
    }
    const place = ancestors.find((p) => p.root.isConnected);
    if (!place) return;
    const now = focusables(place.root);
    now[Math.min(Math.max(place.index, 0), now.length - 1)]?.focus();
  };
}

/** Dialog.Content that gives focus back to what opened it (see useFocusReturn). */
export function DialogContent(props: ComponentProps<typeof Dialog.Content>) {
  const returnFocus = useFocusReturn();
  return <Dialog.Content {...props} onCloseAutoFocus={returnFocus} />;
}

/** AlertDialog.Content that gives focus back to what opened it (see useFocusReturn). */
export function AlertDialogContent(props: ComponentProps<typeof AlertDialog.Content>) {
  const returnFocus = useFocusReturn();
  return <AlertDialog.Content {...props} onCloseAutoFocus={returnFocus} />;
}

/**
 * An alert dialog its `trigger` button opens, and that stays open while `pending`: closing it
 * mid-call would hide the outcome. `onOpenChange` runs after each change the user makes (to reset).
 */
export function GuardedAlertDialog({
  open,
  setOpen,
  pending,
  onOpenChange,
  trigger,
  children,
}: {
  open: boolean;
  setOpen: (open: boolean) => void;
  pending: boolean;
  onOpenChange?: (open: boolean) => void;
  trigger: ReactNode;
  children: ReactNode;
}) {
  return (
    <AlertDialog.Root
      open={open}
      onOpenChange={(next) => {
        if (pending) return;
        setOpen(next);
        onOpenChange?.(next);
      }}
    >
      <AlertDialog.Trigger asChild>{trigger}</AlertDialog.Trigger>
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="overlay" />
        <AlertDialogContent className="dialog">{children}</AlertDialogContent>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
}

export type BadgeTone = 'neutral' | 'info' | 'ok' | 'warn' | 'danger' | 'demo';

export function Badge({
  tone = 'neutral',
  children,
  title,
}: {
  tone?: BadgeTone;
  children: ReactNode;
  title?: string;
}) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

export function DemoBadge() {
  return (
    <Badge
      tone="demo"
      title="A SoftHSM2 demo token in the app's data folder; its PINs are public, it protects nothing"
    >
      DEMO
    </Badge>
  );
}

/** Copies text to the clipboard and says so for a moment (to screen readers too). */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setState('idle'), 2000);
  };
  return (
    <span className="copy">
      <button type="button" onClick={() => void copy()}>
        {label}
      </button>
      <span role="status" className="muted small">
        {state === 'copied'
          ? 'Copied'
          : state === 'failed'
            ? 'The clipboard is not available; select the text instead.'
            : ''}
      </span>
    </span>
  );
}

export function Facts({ rows, label }: { rows: [string, ReactNode][]; label?: string }) {
  return (
    <dl className="facts" aria-label={label}>
      {rows.map(([k, v]) => (
        <div key={k} className="fact">
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Loading({ children = 'Loading…' }: { children?: ReactNode }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      {children}
    </p>
  );
}

/**
 * A masked input with a reveal toggle, never autocompleted or spell-checked. The caller's input
 * attributes decide the rest, controlled or not (see PinField and the console's SecretInput).
 */
export function MaskedField({
  id,
  label,
  input,
}: {
  id: string;
  label: string;
  input: InputHTMLAttributes<HTMLInputElement>;
}) {
  const [revealed, setRevealed] = useState(false);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="pin-row">
        <input
          {...input}
          id={id}
          type={revealed ? 'text' : 'password'}
          autoComplete="off"
          autoCorrect="off"
          autoCapitalize="off"
          spellCheck={false}
        />
        <button
          type="button"
          aria-pressed={revealed}
          aria-label={revealed ? `Hide ${label}` : `Show ${label}`}
          onClick={() => setRevealed((r) => !r)}
        >
          {revealed ? 'Hide' : 'Show'}
        </button>
      </div>
    </div>
  );
}

/** A PIN field: masked, never autocompleted, with a reveal toggle. Uncontrolled on purpose: the
 * PIN lives only in the input element, never in React state, and the form clears it. */
export function PinField({
  name,
  label,
  autoFocus,
  describedBy,
}: {
  name: string;
  label: string;
  autoFocus?: boolean;
  describedBy?: string;
}) {
  return (
    <MaskedField
      id={`pin-${name}`}
      label={label}
      input={{ name, inputMode: 'text', required: true, autoFocus, 'aria-describedby': describedBy }}
    />
  );
}

/** Reads a PIN field of a form and blanks it at once. */
export function takePin(form: HTMLFormElement, name: string): string {
  const input = form.elements.namedItem(name);
  if (!(input instanceof HTMLInputElement)) return '';
  const value = input.value;
  input.value = '';
  return value;
}

export function shortId(id: string): string {
  if (!id) return '(none)';
  return id.length > 12 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}
