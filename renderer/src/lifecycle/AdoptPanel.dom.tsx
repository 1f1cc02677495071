import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import type { TOKEN_PURPOSES } from '../../../shared/lifecycle/vocabulary.std';
import { HMAC_SHA256_KEY_TYPES } from '../../../shared/tokens.std';
import { mkm } from '../api.dom';
import { Badge, ErrorNotice, Loading, shortId } from '../ui/bits.dom';
import { PURPOSE_NAMES } from './format.dom';
import { lifecycleKeys, useRefreshLifecycle } from './queries.dom';
import { keyTypeText } from '../../../shared/wording.std';

type Purpose = (typeof TOKEN_PURPOSES)[number];

const SYSTEM_NAMES = {
  audit: 'audit log sealing key',
  'gateway-key-set': 'gateway key set (session)',
  session: 'session object',
} as const;

/** The purposes an object of this kind can serve (the lifecycle refuses the others). */
function purposesFor(keyType: string | null): Purpose[] {
  if (keyType === 'aes') return ['data', 'kek'];
  if (keyType !== null && HMAC_SHA256_KEY_TYPES.includes(keyType)) return ['hmac'];
  if (keyType === 'rsa') return ['gateway-transport', 'signing'];
  return [];
}

/**
 * The token compared with the inventory: keys nobody manages (adopt them), mkm's own keys (shown,
 * not adoptable) and managed versions whose object is gone.
 */
export function AdoptPanel({ slotId }: { slotId: number }) {
  const report = useQuery({
    queryKey: lifecycleKeys.reconcile(slotId),
    queryFn: () => mkm().lifecycle.reconcile({ slotId }),
  });
  if (report.isPending) return <Loading>Comparing the token with the inventory…</Loading>;
  if (report.error) return <ErrorNotice error={report.error} onRetry={() => void report.refetch()} />;
  const r = report.data;
  return (
    <section className="stack" aria-label="Token and inventory">
      {r.missing.length > 0 && (
        <div role="alert" className="notice notice-error">
          <span>
            {r.missing.length} managed version{r.missing.length > 1 ? 's are' : ' is'} missing from the token:{' '}
            {r.missing.map((m) => shortId(m.ckaId)).join(', ')}. Insert the right token, or restore it from
            its backup.
          </span>
        </div>
      )}
      <h3>Unmanaged keys on the token</h3>
      {r.unmanaged.length === 0 ? (
        <p className="empty">Every key on this token is managed (or is one of mkm’s own).</p>
      ) : (
        <table className="table" aria-label="Unmanaged keys">
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col">ID</th>
              <th scope="col">Type</th>
              <th scope="col">Adopt as</th>
            </tr>
          </thead>
          <tbody>
            {r.unmanaged.map((u) => (
              <AdoptRow key={u.ckaId} slotId={slotId} object={u} />
            ))}
          </tbody>
        </table>
      )}
      {r.system.length > 0 && (
        <>
          <h3>mkm’s own keys</h3>
          <ul className="lc-system" aria-label="System keys">
            {r.system.map((s) => (
              <li key={`${s.kind}-${s.ckaId}`}>
                <Badge tone="info">system</Badge> {s.label || '(no label)'}{' '}
                <span className="muted small">
                  {SYSTEM_NAMES[s.kind]} · ID <code>{shortId(s.ckaId)}</code>
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function AdoptRow({
  slotId,
  object,
}: {
  slotId: number;
  object: { ckaId: string; label: string; keyType: string | null; bits: number | null };
}) {
  const choices = purposesFor(object.keyType);
  const [purpose, setPurpose] = useState<Purpose | ''>(choices[0] ?? '');
  const [name, setName] = useState(object.label);
  const refresh = useRefreshLifecycle();
  const adopt = useMutation({
    mutationFn: () =>
      mkm().lifecycle.adopt({
        slotId,
        ckaId: object.ckaId,
        purpose: purpose as Purpose,
        ...(name.trim() ? { name: name.trim() } : {}),
      }),
    onSettled: () => void refresh(),
  });
  const rowId = `adopt-${object.ckaId}`;
  return (
    <tr>
      <td>{object.label || '(no label)'}</td>
      <td>
        <code>{shortId(object.ckaId)}</code>
      </td>
      <td>{keyTypeText(object.keyType, object.bits)}</td>
      <td>
        {choices.length === 0 ? (
          <span className="muted small">This kind of key cannot be managed.</span>
        ) : (
          <form
            className="button-row"
            onSubmit={(e) => {
              e.preventDefault();
              if (purpose) adopt.mutate();
            }}
          >
            <label className="sr-only" htmlFor={`${rowId}-purpose`}>
              Purpose for {object.label || object.ckaId}
            </label>
            <select
              id={`${rowId}-purpose`}
              value={purpose}
              onChange={(e) => setPurpose(e.target.value as Purpose)}
            >
              {choices.map((p) => (
                <option key={p} value={p}>
                  {PURPOSE_NAMES[p]}
                </option>
              ))}
            </select>
            <label className="sr-only" htmlFor={`${rowId}-name`}>
              Name for {object.label || object.ckaId}
            </label>
            <input
              id={`${rowId}-name`}
              value={name}
              maxLength={128}
              placeholder="Name"
              onChange={(e) => setName(e.target.value)}
            />
            <button type="submit" disabled={adopt.isPending}>
              {adopt.isPending ? 'Adopting…' : 'Adopt'}
            </button>
            {adopt.error && <ErrorNotice error={adopt.error} />}
          </form>
        )}
      </td>
    </tr>
  );
}
