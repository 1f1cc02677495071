import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { COMPOSE_LABELS, maskField, type ComposeFieldName } from '../../../shared/console/compose.std';
import type { RoundTripLeg } from '../../../shared/contract/console.std';
import { mkm } from '../api.dom';
import { Badge } from '../ui/bits.dom';
import {
  ConsoleError,
  consoleKeys,
  ProfileGate,
  ProfileSelect,
  useConsoleState,
  useProfiles,
} from './console-state.dom';

/**
 * Round trip: the payload composed on the first tab goes to /v1/encryption/verify (encrypted
 * under the gateway key) and /v1/secure/verify_payload (in a key-rolling envelope). Each field
 * shows what the gateway received, and whether its salted hash matches the value typed here
 * (fresh salt per request, so the gateway never echoes a value).
 */
export function RoundTripPanel() {
  const profiles = useProfiles();
  const [shared] = useConsoleState();
  const [legs, setLegs] = useState<{ cse: boolean; secure: boolean }>({ cse: true, secure: true });
  const queryClient = useQueryClient();
  const given = (Object.entries(shared.fields) as [ComposeFieldName, string | undefined][]).filter(
    (e): e is [ComposeFieldName, string] => !!e[1],
  );
  const chosen = profiles.chosen;
  const wanted = [
    ...(legs.cse ? (['cse'] as const) : []),
    ...(legs.secure && chosen?.keyRolling ? (['secure'] as const) : []),
  ];

  const verify = useMutation({
    mutationFn: () =>
      mkm().console.verify({
        profileId: chosen!.id,
        fields: Object.fromEntries(given),
        legs: [...wanted],
        // What Compose encrypted with, not the profile's scheme.
        ...(shared.composed
          ? { scheme: shared.composed.scheme, overrideScheme: shared.composed.overrideScheme }
          : {}),
      }),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: consoleKeys.history }),
  });

  return (
    <ProfileGate profiles={profiles}>
      <div className="stack console-panel">
        <ProfileSelect
          id="roundtrip-profile"
          list={profiles.list}
          chosen={chosen}
          onChoose={profiles.choose}
        />
        {given.length === 0 ? (
          <div className="empty" role="status">
            Compose a payload on the <strong>Compose &amp; encrypt</strong> tab first; it is verified from
            there.
          </div>
        ) : (
          <p className="muted">
            Payload:{' '}
            {given.map(([f, v]) => (
              <span key={f} className="console-chip">
                {COMPOSE_LABELS[f]} <code>{maskField(f, v)}</code>
              </span>
            ))}
          </p>
        )}
        <fieldset className="field">
          <legend>Endpoints</legend>
          <label className="check">
            <input
              type="checkbox"
              checked={legs.cse}
              onChange={(e) => setLegs({ ...legs, cse: e.target.checked })}
            />
            /v1/encryption/verify (client-side encrypted fields)
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={legs.secure && !!chosen?.keyRolling}
              disabled={!chosen?.keyRolling}
              onChange={(e) => setLegs({ ...legs, secure: e.target.checked })}
            />
            /v1/secure/verify_payload (key-rolling message)
            {!chosen?.keyRolling && ' — this profile has no key rolling'}
          </label>
        </fieldset>
        <div className="button-row">
          <button
            type="button"
            className="primary"
            disabled={verify.isPending || given.length === 0 || wanted.length === 0}
            onClick={() => verify.mutate()}
          >
            {verify.isPending ? 'Verifying…' : 'Verify at the gateway'}
          </button>
        </div>
        {verify.isError && <ConsoleError error={verify.error} />}
        {verify.data?.cse && <LegTable leg={verify.data.cse} />}
        {verify.data?.secure && <LegTable leg={verify.data.secure} />}
      </div>
    </ProfileGate>
  );
}

const yesNo = (v: boolean | null, yes = 'yes', no = 'no') => (v === null ? '—' : v ? yes : no);

function LegTable({ leg }: { leg: RoundTripLeg }) {
  return (
    <section className="card stack" aria-label={leg.endpoint}>
      <div className="section-head">
        <h3 className="card-title">
          <code>{leg.endpoint}</code>
        </h3>
        <span className="push-right">
          {leg.error ? (
            <Badge tone="danger">failed</Badge>
          ) : leg.ok ? (
            <Badge tone="ok">all fields match</Badge>
          ) : (
            <Badge tone="warn">mismatch</Badge>
          )}
        </span>
      </div>
      {leg.error && <ConsoleError error={leg.error} />}
      {(leg.padding || leg.setId) && (
        <p className="muted small">
          {leg.padding && `${leg.padding}${leg.keyId ? `, gateway key ${leg.keyId}` : ''}`}
          {leg.setId && `Sent under set ${leg.setId}`}
          {leg.nextKeySet &&
            ('refused' in leg.nextKeySet
              ? `; the next set was refused (${leg.nextKeySet.refused})`
              : `; next set ${leg.nextKeySet.setId}`)}
        </p>
      )}
      {leg.rows.length > 0 && (
        <table className="table console-roundtrip">
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Sent</th>
              <th scope="col">Received</th>
              <th scope="col">Length</th>
              <th scope="col">Last 4</th>
              <th scope="col">Luhn / ABA</th>
              <th scope="col">Hash</th>
              <th scope="col">Verdict</th>
            </tr>
          </thead>
          <tbody>
            {leg.rows.map((r) => (
              <tr key={r.field} data-field={r.field}>
                <th scope="row">
                  <code>{r.gatewayName}</code>
                </th>
                <td>
                  <code>{r.masked}</code>
                </td>
                <td>{r.received ? 'yes' : `no${r.error ? ` (${r.error})` : ''}`}</td>
                <td>
                  {r.length ?? '—'} / {r.expectedLength}
                </td>
                <td>{r.expectedLast4 === null ? '—' : (r.last4 ?? 'missing')}</td>
                <td>
                  {r.luhnOk !== null
                    ? `Luhn ${yesNo(r.luhnOk, 'ok', 'bad')}`
                    : r.abaOk !== null
                      ? `ABA ${yesNo(r.abaOk, 'ok', 'bad')}`
                      : '—'}
                </td>
                <td>{r.tagMatch === null ? 'not hashed' : r.tagMatch ? 'match' : 'DIFFERS'}</td>
                <td>{r.ok ? <Badge tone="ok">ok</Badge> : <Badge tone="danger">check</Badge>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
