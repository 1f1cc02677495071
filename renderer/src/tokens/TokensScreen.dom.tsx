import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { SlotSummary } from '../../../shared/tokens.std';
import { mkm } from '../api.dom';
import { Badge, DemoBadge, ErrorNotice, Facts, Loading } from '../ui/bits.dom';
import { Capabilities } from './Capabilities.dom';
import { ModulePicker } from './ModulePicker.dom';
import { SoActions } from './SoActions.dom';
import { tokenKeys, tokenLabel, useTokens } from './TokenContext.dom';

export function TokensScreen() {
  const { modules, slots, activeSlot } = useTokens();
  return (
    <div className="stack">
      {modules.isPending && <Loading>Loading the PKCS#11 library…</Loading>}
      {modules.error && <ErrorNotice error={modules.error} onRetry={() => void modules.refetch()} />}
      {modules.data && <ModulePicker state={modules.data} />}
      <section aria-labelledby="slots-h" className="stack">
        <div className="section-head">
          <h2 id="slots-h">Slots and tokens</h2>
          <button type="button" onClick={() => void slots.refetch()} disabled={slots.isFetching}>
            {slots.isFetching ? 'Refreshing…' : 'Refresh'}
          </button>
        </div>
        {slots.isPending && slots.fetchStatus === 'fetching' && <Loading>Looking for tokens…</Loading>}
        {slots.error && <ErrorNotice error={slots.error} onRetry={() => void slots.refetch()} />}
        {slots.data?.length === 0 && (
          <p className="empty">
            No slots: plug in the token or its reader, or choose the right library above.
          </p>
        )}
        {slots.data && slots.data.length > 0 && (
          <div className="slot-list" role="radiogroup" aria-label="Token to work with">
            {slots.data.map((s) => (
              <SlotCard key={s.slotId} slot={s} active={s.slotId === activeSlot?.slotId} />
            ))}
          </div>
        )}
      </section>
      {activeSlot?.token?.flags.tokenInitialized && (
        <Capabilities key={activeSlot.slotId} slot={activeSlot} />
      )}
      {activeSlot?.token && <SoActions slot={activeSlot} />}
    </div>
  );
}

function SlotCard({ slot, active }: { slot: SlotSummary; active: boolean }) {
  const { setActiveSlotId, isDemoSlot, openLogin } = useTokens();
  const queryClient = useQueryClient();
  const logout = useMutation({
    mutationFn: () => mkm().tokens.logout({ slotId: slot.slotId }),
    onSettled: () => {
      queryClient.removeQueries({ queryKey: ['keys'] });
      void queryClient.invalidateQueries({ queryKey: tokenKeys.list });
    },
  });
  const t = slot.token;
  const f = t?.flags;
  const usable = Boolean(t?.flags.tokenInitialized);
  const headingId = `slot-${slot.slotId}-h`;
  return (
    <article className={`card slot${active ? ' slot-active' : ''}`} aria-labelledby={headingId}>
      <div className="slot-head">
        <label className="slot-pick">
          <input
            type="radio"
            name="active-slot"
            checked={active}
            onChange={() => setActiveSlotId(slot.slotId)}
            aria-label={`Work with ${tokenLabel(slot)}`}
          />
          <h3 id={headingId}>
            {tokenLabel(slot)} {isDemoSlot(slot) && <DemoBadge />}
          </h3>
        </label>
        <span className="push-right button-row">
          {slot.session.loggedIn ? (
            <>
              <Badge tone="ok">Logged in{slot.session.userType === 'so' ? ' (SO)' : ''}</Badge>
              <button type="button" onClick={() => logout.mutate()} disabled={logout.isPending}>
                Log out
              </button>
            </>
          ) : (
            usable && (
              <button type="button" className="primary" onClick={() => openLogin(slot.slotId)}>
                Log in…
              </button>
            )
          )}
        </span>
      </div>
      {logout.error && <ErrorNotice error={logout.error} />}
      <div className="flags" role="group" aria-label="Token flags">
        {!t && <Badge tone="neutral">No token inserted</Badge>}
        {t && !f!.tokenInitialized && <Badge tone="warn">Not initialized</Badge>}
        {/* The flag says a login is needed to use keys; beside "Logged in" it would contradict it. */}
        {f?.loginRequired && !slot.session.loggedIn && <Badge tone="info">Login required</Badge>}
        {f?.tokenInitialized && !f.userPinInitialized && <Badge tone="warn">User PIN not set</Badge>}
        {f?.userPinCountLow && <Badge tone="warn">PIN count low</Badge>}
        {f?.userPinFinalTry && <Badge tone="danger">PIN final try</Badge>}
        {f?.userPinLocked && <Badge tone="danger">PIN locked</Badge>}
        {f?.userPinToBeChanged && <Badge tone="warn">PIN must be changed</Badge>}
        {f?.soPinLocked && f.tokenInitialized && <Badge tone="danger">SO PIN locked</Badge>}
        {f?.protectedAuthenticationPath && <Badge tone="info">PIN pad</Badge>}
        {slot.removable && <Badge tone="neutral">Removable</Badge>}
        {f?.writeProtected && <Badge tone="warn">Write-protected</Badge>}
        {f?.errorState && <Badge tone="danger">Token error state</Badge>}
      </div>
      <details open={active}>
        <summary>Details</summary>
        <Facts
          rows={[
            ['Slot', `${slot.slotId} — ${slot.description.trim()}`],
            [
              'Slot maker',
              `${slot.manufacturer.trim()} (hardware ${slot.hardware}, firmware ${slot.firmware})`,
            ],
            ...(t
              ? ([
                  ['Token maker / model', `${t.manufacturer.trim()} / ${t.model.trim()}`],
                  ['Serial', t.serial.trim() || '—'],
                  ['Firmware / hardware', `${t.firmware} / ${t.hardware}`],
                  ['PIN length', `${t.minPinLen}–${t.maxPinLen}`],
                  [
                    'Sessions',
                    t.sessionCount === null
                      ? 'not reported'
                      : `${t.sessionCount} of ${t.maxSessionCount ?? '?'}`,
                  ],
                  ['Free memory', memory(t.freePublicMemory, t.freePrivateMemory)],
                ] as [string, string][])
              : []),
          ]}
        />
      </details>
    </article>
  );
}

function memory(pub: number | null, priv: number | null): string {
  if (pub === null && priv === null) return 'not reported';
  const kb = (n: number | null) => (n === null ? '?' : `${Math.round(n / 1024)} KB`);
  return `public ${kb(pub)}, private ${kb(priv)}`;
}
