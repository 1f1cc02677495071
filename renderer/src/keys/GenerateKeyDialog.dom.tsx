import * as Dialog from '@radix-ui/react-dialog';
import { useId, useState, type FormEvent } from 'react';
import type { KeyPurpose, KeyType } from '../../../shared/tokens.std';
import { TokenWaitNotice, useTokenWait } from '../tokens/TokenWait.dom';
import { DialogContent, ErrorNotice } from '../ui/bits.dom';
import { KEY_TYPES, PURPOSES } from './keyFormat.dom';
import type { useGeneration } from './useGeneration.dom';

/** Choose type, label and purpose; watch the token work. */
export function GenerateKeyDialog({
  open,
  onOpenChange,
  slotId,
  generation,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  slotId: number;
  generation: ReturnType<typeof useGeneration>;
}) {
  return (
    <Dialog.Root open={open} onOpenChange={onOpenChange}>
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <DialogContent className="dialog" aria-describedby={undefined}>
          <GenerateForm slotId={slotId} generation={generation} />
        </DialogContent>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

function GenerateForm({
  slotId,
  generation,
}: {
  slotId: number;
  generation: ReturnType<typeof useGeneration>;
}) {
  const ids = useId();
  const [type, setType] = useState<KeyType>('aes-256');
  const [chosenPurpose, setPurpose] = useState<KeyPurpose>('data');
  const [label, setLabel] = useState('');
  const [exportable, setExportable] = useState(false);
  const typeInfo = KEY_TYPES.find((t) => t.value === type)!;
  // A purpose that does not fit the type falls back to the type's first one.
  const purpose = typeInfo.purposes.includes(chosenPurpose) ? chosenPurpose : typeInfo.purposes[0]!;
  const isSecret = type === 'aes-256' || type === 'hmac-256';
  const running = generation.running;
  const waitMessage = useTokenWait(running?.operationId ?? null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (running || !label.trim()) return;
    generation.reset();
    generation.start({
      slotId,
      type,
      label: label.trim(),
      purpose,
      ...(isSecret && exportable ? { exportable: true } : {}),
    });
  };

  return (
    <form onSubmit={submit} aria-busy={running !== null}>
      <Dialog.Title className="dialog-title">Generate a key</Dialog.Title>
      <p className="muted">The key is made inside the token and never leaves it in clear.</p>
      <fieldset disabled={running !== null} className="plain">
        <div className="field">
          <label htmlFor={`${ids}-type`}>Type</label>
          <select id={`${ids}-type`} value={type} onChange={(e) => setType(e.target.value as KeyType)}>
            {KEY_TYPES.map((t) => (
              <option key={t.value} value={t.value}>
                {t.label}
              </option>
            ))}
          </select>
          {type === 'rsa-4096' && (
            <p className="muted small">
              RSA-4096 can take a minute or more on a smartcard. You can keep working meanwhile.
            </p>
          )}
        </div>
        <div className="field">
          <label htmlFor={`${ids}-label`}>Label</label>
          <input
            id={`${ids}-label`}
            value={label}
            onChange={(e) => setLabel(e.target.value)}
            required
            maxLength={128}
            autoComplete="off"
            autoFocus
            placeholder="e.g. gateway-transport-2026"
          />
        </div>
        <fieldset className="field purposes">
          <legend>Purpose</legend>
          {typeInfo.purposes.map((p) => (
            <label key={p} className="radio-card">
              <input
                type="radio"
                name="purpose"
                value={p}
                checked={purpose === p}
                onChange={() => setPurpose(p)}
                aria-describedby={`${ids}-${p}`}
              />
              <span>
                <strong>{PURPOSES[p].label}</strong>
                <span id={`${ids}-${p}`} className="muted small block">
                  {PURPOSES[p].allows}
                </span>
              </span>
            </label>
          ))}
        </fieldset>
        {isSecret && (
          <label className="check">
            <input type="checkbox" checked={exportable} onChange={(e) => setExportable(e.target.checked)} />{' '}
            Allow a wrapped backup to a second token, only under a key-encryption key the security officer
            marked trusted (the key stays sensitive and never leaves in clear)
          </label>
        )}
      </fieldset>
      {running && <TokenWaitNotice operationId={running.operationId} message={waitMessage} />}
      {running && waitMessage === null && (
        <div role="status" aria-live="polite" className="notice notice-info progress">
          <span className="spinner" aria-hidden="true" />
          <span>
            {generation.message.replace(/… \d+ s/, '…')} <strong>{generation.elapsedSeconds} s</strong>
          </span>
        </div>
      )}
      {generation.error && <ErrorNotice error={generation.error} />}
      <div className="dialog-actions">
        <Dialog.Close asChild>
          <button type="button">{running ? 'Hide (keeps running)' : 'Cancel'}</button>
        </Dialog.Close>
        <button type="submit" className="primary" disabled={running !== null || !label.trim()}>
          {running ? 'Generating…' : 'Generate'}
        </button>
      </div>
    </form>
  );
}
