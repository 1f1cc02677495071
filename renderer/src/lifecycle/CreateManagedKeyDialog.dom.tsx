import * as Dialog from '@radix-ui/react-dialog';
import { useMutation } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import type { LifecycleKeyView } from '../../../shared/contract.std';
import type { LifecyclePolicy } from '../../../shared/contract/lifecycle.std';
import { TOKEN_PURPOSES, type ManagedKeyType } from '../../../shared/lifecycle/vocabulary.std';
import { mkm } from '../api.dom';
import { DialogActions, DialogContent, ErrorNotice } from '../ui/bits.dom';
import { PURPOSE_NAMES } from './format.dom';
import { ProgressSteps, rotationSteps } from './ProgressSteps.dom';
import { usePolicies, useRefreshLifecycle } from './queries.dom';
import { useOperationProgress } from './useOperation.dom';

type Purpose = (typeof TOKEN_PURPOSES)[number];

/** The key types each purpose allows (the lifecycle checks the same table). */
const TYPES: Record<Purpose, ManagedKeyType[]> = {
  'gateway-transport': ['rsa-2048', 'rsa-3072', 'rsa-4096'],
  signing: ['rsa-2048', 'rsa-3072', 'rsa-4096'],
  data: ['aes-256'],
  kek: ['aes-256'],
  hmac: ['hmac-256'],
  audit: ['hmac-256'],
};

const POLICY_FIELDS: { key: keyof LifecyclePolicy; label: string; unit: string }[] = [
  { key: 'cryptoPeriodDays', label: 'Crypto-period', unit: 'days' },
  { key: 'maxUses', label: 'Maximum uses', unit: 'uses' },
  { key: 'warnDays', label: 'Warn before the end', unit: 'days' },
  { key: 'graceDays', label: 'Grace period after a rotation', unit: 'days' },
];

/** A new managed key: name, purpose, type and, if wanted, a shorter policy than the purpose's. */
export function CreateManagedKeyDialog({
  slotId,
  disabled,
  onCreated,
}: {
  slotId: number;
  disabled: boolean;
  onCreated: (key: LifecycleKeyView) => void;
}) {
  const [open, setOpen] = useState(false);
  return (
    <Dialog.Root open={open} onOpenChange={setOpen}>
      <Dialog.Trigger asChild>
        <button
          type="button"
          className="primary"
          disabled={disabled}
          title={disabled ? 'Log in first' : undefined}
        >
          Create managed key…
        </button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <DialogContent
          className="dialog"
          aria-describedby={undefined}
          onInteractOutside={(e) => e.preventDefault()}
        >
          <Dialog.Title className="dialog-title">Create a managed key</Dialog.Title>
          <CreateForm
            slotId={slotId}
            onDone={(key) => {
              setOpen(false);
              onCreated(key);
            }}
          />
        </DialogContent>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

function CreateForm({ slotId, onDone }: { slotId: number; onDone: (key: LifecycleKeyView) => void }) {
  const ids = useId();
  const policies = usePolicies();
  const [name, setName] = useState('');
  const [purpose, setPurpose] = useState<Purpose>('data');
  const [chosenType, setType] = useState<ManagedKeyType>('aes-256');
  const [overrides, setOverrides] = useState<Partial<Record<keyof LifecyclePolicy, string>>>({});
  const [operationId, setOperationId] = useState<string | null>(null);
  const seen = useOperationProgress(operationId);
  const refresh = useRefreshLifecycle();
  const type = TYPES[purpose].includes(chosenType) ? chosenType : TYPES[purpose][0]!;
  const defaults = policies.data?.[purpose];
  const create = useMutation({
    mutationFn: ({ id, acceptWiderUsage }: { id: string; acceptWiderUsage?: boolean }) => {
      const policy: Partial<Record<keyof LifecyclePolicy, number>> = {};
      for (const f of POLICY_FIELDS) {
        const raw = overrides[f.key]?.trim();
        if (raw) policy[f.key] = Number(raw);
      }
      return mkm().lifecycle.create({
        name: name.trim(),
        purpose,
        type,
        slotId,
        operationId: id,
        ...(Object.keys(policy).length ? { policy } : {}),
        ...(acceptWiderUsage ? { acceptWiderUsage } : {}),
      });
    },
    onSuccess: (result) => onDone(result.logicalKey),
    onSettled: () => void refresh(),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (create.isPending || !name.trim()) return;
    const id = crypto.randomUUID();
    setOperationId(id);
    create.mutate({ id });
  };
  const acceptWider = () => {
    const id = crypto.randomUUID();
    setOperationId(id);
    create.mutate({ id, acceptWiderUsage: true });
  };
  const refused = widerUsageRefused(create.error);

  return (
    <form onSubmit={submit} className="stack">
      <div className="field">
        <label htmlFor={`${ids}-name`}>Name</label>
        <input
          id={`${ids}-name`}
          value={name}
          maxLength={128}
          required
          autoFocus
          autoComplete="off"
          onChange={(e) => setName(e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={`${ids}-purpose`}>Purpose</label>
        <select id={`${ids}-purpose`} value={purpose} onChange={(e) => setPurpose(e.target.value as Purpose)}>
          {TOKEN_PURPOSES.map((p) => (
            <option key={p} value={p}>
              {PURPOSE_NAMES[p]}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${ids}-type`}>Type</label>
        <select id={`${ids}-type`} value={type} onChange={(e) => setType(e.target.value as ManagedKeyType)}>
          {TYPES[purpose].map((t) => (
            <option key={t} value={t}>
              {t.toUpperCase()}
            </option>
          ))}
        </select>
      </div>
      <fieldset className="lc-policy">
        <legend>Rotation policy (empty: the purpose’s default)</legend>
        {POLICY_FIELDS.map((f) => (
          <div className="field" key={f.key}>
            <label htmlFor={`${ids}-${f.key}`}>
              {f.label} ({f.unit})
            </label>
            <input
              id={`${ids}-${f.key}`}
              type="number"
              min={f.key === 'warnDays' || f.key === 'graceDays' ? 0 : 1}
              step={1}
              inputMode="numeric"
              placeholder={defaults ? String(defaults[f.key] ?? 'no limit') : ''}
              value={overrides[f.key] ?? ''}
              onChange={(e) => setOverrides((o) => ({ ...o, [f.key]: e.target.value }))}
            />
          </div>
        ))}
      </fieldset>
      {create.isPending || create.isSuccess ? (
        <ProgressSteps steps={rotationSteps(purpose === 'gateway-transport')} seen={seen} failed={false} />
      ) : null}
      {create.error && !refused && <ErrorNotice error={create.error} />}
      {refused && (
        <div role="alert" className="notice notice-warn stack" data-testid="wider-usage-refused">
          <span>
            <strong>The token refuses mkm’s narrow key settings.</strong> It insists on these usages as well:
          </span>
          <ul>
            {refused.map((u) => (
              <li key={u}>
                <code className="code-chip">{u}</code>
              </li>
            ))}
          </ul>
          <span className="small">
            The key was not kept. You may accept the token’s wider usage for this key only; the acceptance is
            recorded in the audit log.
          </span>
          <button type="button" onClick={acceptWider} disabled={create.isPending}>
            Accept the token’s wider usage for this key
          </button>
        </div>
      )}
      <DialogActions
        kind="dialog"
        pending={create.isPending}
        action={{
          label: 'Create',
          pendingLabel: 'Creating…',
          tone: 'primary',
          type: 'submit',
          disabled: !name.trim(),
        }}
      />
    </form>
  );
}

/** The usages a KEY_TEMPLATE_REFUSED names ("private:decrypt", ...), or null for any other error. */
function widerUsageRefused(error: unknown): string[] | null {
  const e = error as { code?: unknown; details?: { refused?: unknown } } | null;
  if (e?.code !== 'KEY_TEMPLATE_REFUSED') return null;
  const refused = e.details?.refused;
  return Array.isArray(refused) ? refused.filter((u): u is string => typeof u === 'string') : [];
}
