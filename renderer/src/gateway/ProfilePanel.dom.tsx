import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type ReactNode } from 'react';
import type { GatewayProfileView, GatewayStatus } from '../../../shared/contract.std';
import type {
  GatewayMerchantKeyView,
  GatewayPinConfirmation,
  GatewayPublicKeyView,
} from '../../../shared/contract/gateway.std';
import type { ObjectInfo } from '../../../shared/tokens.std';
import { asMkmError, mkm } from '../api.dom';
import { useCapabilityBlock } from '../tokens/capabilityGate.dom';
import { tokenLabel, useTokens } from '../tokens/TokenContext.dom';
import { Badge, DialogActions, ErrorNotice, Facts, GuardedAlertDialog, Loading } from '../ui/bits.dom';
import { fpGroups, gatewayKeys, isOffline, needsPassword, when } from './format.dom';
import { PasswordDialog } from './PasswordDialog.dom';

/** One profile: connection and sync, the pinned gateway key, transport keys, key set, ping. */
export function ProfilePanel({ profile, onRemoved }: { profile: GatewayProfileView; onRemoved: () => void }) {
  const queryClient = useQueryClient();
  const [askPassword, setAskPassword] = useState(false);
  const status = useQuery({
    queryKey: gatewayKeys.status(profile.id),
    queryFn: () => mkm().gateway.status({ profileId: profile.id }),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: gatewayKeys.status(profile.id) });
  const passwordButton = (
    <button type="button" onClick={() => setAskPassword(true)}>
      Enter password…
    </button>
  );
  /** An error notice that offers the password dialog when the password is what is missing. */
  const failure = (error: unknown) => (
    <ErrorNotice error={error}>{needsPassword(asMkmError(error)) && <> {passwordButton}</>}</ErrorNotice>
  );

  return (
    <section className="stack" aria-label={`Gateway profile ${profile.name}`}>
      <div className="card">
        <div className="card-title">
          <h2>{profile.name}</h2>
          {profile.demo && (
            <Badge tone="demo" title="The app's local sandbox gateway on 127.0.0.1; it protects nothing">
              DEMO
            </Badge>
          )}
          <span className="push-right button-row">
            <button type="button" onClick={() => setAskPassword(true)}>
              Password…
            </button>
            <RemoveProfile profile={profile} onRemoved={onRemoved} />
          </span>
        </div>
        <Facts
          label="Profile"
          rows={[
            ['Base URL', <span className="break">{profile.baseUrl}</span>],
            ['User', profile.username],
            [
              'Password',
              `${profile.passwordKnown ? 'available to the app' : 'not entered yet'}${
                profile.passwordEnv ? ` (may come from $${profile.passwordEnv})` : ''
              }`,
            ],
            [
              'TLS pin',
              profile.tlsPinSha256 ? (
                <span className="gw-fp">{fpGroups(profile.tlsPinSha256)}</span>
              ) : (
                <Badge tone="warn">none: the certificate must be publicly trusted</Badge>
              ),
            ],
            [
              'Schemes',
              [
                profile.cse ? `client-side encryption (${profile.cse})` : null,
                profile.keyRolling ? 'key rolling' : null,
              ]
                .filter(Boolean)
                .join(', ') || 'none',
            ],
          ]}
        />
      </div>
      <PasswordDialog profile={profile} open={askPassword} onOpenChange={setAskPassword} onDone={refresh} />
      {status.isPending && <Loading />}
      {status.error && <ErrorNotice error={status.error} onRetry={() => void status.refetch()} />}
      {status.data && (
        <>
          <SyncCard profile={profile} status={status.data} failure={failure} onChange={refresh} />
          <GatewayKeyCard profile={profile} status={status.data} failure={failure} onChange={refresh} />
          {(profile.keyRolling || status.data.signingKey.status !== 'none') && (
            <SigningKeyCard profile={profile} status={status.data} failure={failure} onChange={refresh} />
          )}
          {profile.keyRolling && (
            <>
              <TransportKeysCard
                profile={profile}
                status={status.data}
                failure={failure}
                onChange={refresh}
              />
              <KeySetCard profile={profile} status={status.data} failure={failure} onChange={refresh} />
            </>
          )}
        </>
      )}
    </section>
  );
}

interface CardProps {
  profile: GatewayProfileView;
  status: GatewayStatus;
  failure: (error: unknown) => ReactNode;
  onChange: () => void;
}

function SyncCard({ profile, status, failure, onChange }: CardProps) {
  const sync = useMutation({
    mutationFn: () => mkm().gateway.sync({ profileId: profile.id }),
    onSettled: onChange,
  });
  const last = status.lastSync;
  const offline = last && !last.ok && isOffline(last.error);
  return (
    <section className="card" aria-label="Connection">
      <div className="card-title">
        <h3>Connection</h3>
        {last === null ? (
          <Badge>not synced yet</Badge>
        ) : last.ok ? (
          <Badge tone="ok">Reachable</Badge>
        ) : offline ? (
          <Badge tone="warn">OFFLINE</Badge>
        ) : (
          <Badge tone="danger">Sync failed</Badge>
        )}
        <button
          type="button"
          className="push-right primary"
          disabled={sync.isPending}
          onClick={() => sync.mutate()}
        >
          {sync.isPending ? 'Syncing…' : 'Sync now'}
        </button>
      </div>
      {offline && (
        <p className="notice notice-warning" role="status">
          <span>
            <strong>OFFLINE:</strong> {last.error?.message}{' '}
            <code className="code-chip">{last.error?.code}</code> The app keeps working with what the token
            holds; sync again when the gateway is back.
          </span>
        </p>
      )}
      <Facts
        label="Last sync"
        rows={[
          ['Last sync', when(last?.at)],
          [
            'Result',
            last === null
              ? '—'
              : last.ok
                ? 'OK'
                : `failed at ${last.step ?? 'start'}: ${last.error?.message ?? ''} (${last.error?.code ?? 'unknown'})`,
          ],
        ]}
      />
      {sync.error && !isOffline(asMkmError(sync.error)) && failure(sync.error)}
    </section>
  );
}

function KeyFacts({ k, label }: { k: GatewayPublicKeyView; label: string }) {
  return (
    <Facts
      label={label}
      rows={[
        [
          'Fingerprint (SPKI SHA-256)',
          <span className="gw-fp" data-testid="gateway-key-fingerprint">
            {fpGroups(k.spkiSha256)}
          </span>,
        ],
        ['Key id', k.keyId ?? '(imported PEM)'],
        ['Padding', k.padding],
        ['Source', k.source === 'fetched' ? 'fetched from the gateway' : 'imported by hand'],
        ['Pinned since', when(k.seenAt)],
      ]}
    />
  );
}

/** The title row of a pinned gateway key's card: its pin status and a fetch button. */
function PinnedKeyTitle({
  title,
  status,
  confirmed,
  fetchLabel,
  fetching,
  onFetch,
}: {
  title: string;
  status: 'none' | 'pinned' | 'rotation-pending';
  confirmed: boolean;
  fetchLabel: string;
  fetching: boolean;
  onFetch: () => void;
}) {
  return (
    <div className="card-title">
      <h3>{title}</h3>
      {status === 'pinned' &&
        (confirmed ? <Badge tone="ok">pinned</Badge> : <Badge tone="warn">pinned, unconfirmed</Badge>)}
      {status === 'rotation-pending' && <Badge tone="warn">rotation pending</Badge>}
      <button type="button" className="push-right" disabled={fetching} onClick={onFetch}>
        {fetching ? 'Fetching…' : fetchLabel}
      </button>
    </div>
  );
}

function GatewayKeyCard({ profile, status, failure, onChange }: CardProps) {
  const ids = useId();
  const [pem, setPem] = useState('');
  const fetchKey = useMutation({
    mutationFn: () => mkm().gateway.fetchKey({ profileId: profile.id }),
    onSettled: onChange,
  });
  const importPem = useMutation({
    mutationFn: () => mkm().gateway.importKeyPem({ profileId: profile.id, pem }),
    onSuccess: () => setPem(''),
    onSettled: onChange,
  });
  const { pinned, pending } = status.gatewayKey;
  return (
    <section className="card" aria-label="Gateway public key">
      <PinnedKeyTitle
        title="Gateway public key"
        status={status.gatewayKey.status}
        confirmed={!!pinned?.confirmed}
        fetchLabel="Fetch key"
        fetching={fetchKey.isPending}
        onFetch={() => fetchKey.mutate()}
      />
      {pending && pinned && (
        <div className="notice notice-warning" role="alert">
          <span>
            <strong>The gateway now serves a different public key.</strong> The pinned key stays in use until
            you compare the fingerprints with the gateway operator and confirm.
          </span>
          <ConfirmRotation
            which="encryption"
            profile={profile}
            pinned={pinned}
            pending={pending}
            onDone={onChange}
          />
        </div>
      )}
      {pinned ? (
        <>
          <KeyFacts k={pinned} label="Pinned gateway key" />
          <PinConfirmation which="encryption" profile={profile} pinned={pinned} onDone={onChange} />
        </>
      ) : (
        <p className="empty">
          No gateway key pinned yet. Fetch it, or import the PEM file the gateway gave you.
        </p>
      )}
      {fetchKey.error && failure(fetchKey.error)}
      <details>
        <summary>Import a PEM file by hand (a gateway without a key endpoint)</summary>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (pem.trim()) importPem.mutate();
          }}
        >
          <div className="field">
            <label htmlFor={`${ids}-pem`}>Gateway public key (PEM)</label>
            <textarea
              id={`${ids}-pem`}
              className="gw-pem"
              spellCheck={false}
              maxLength={16_384}
              placeholder="-----BEGIN PUBLIC KEY-----"
              value={pem}
              onChange={(e) => setPem(e.target.value)}
            />
          </div>
          <input
            type="file"
            accept=".pem,.crt,.cer,text/plain"
            aria-label="Read the PEM from a file"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void file.text().then(setPem);
            }}
          />
          <div className="button-row">
            <button type="submit" disabled={!pem.trim() || importPem.isPending}>
              {importPem.isPending ? 'Importing…' : 'Import PEM'}
            </button>
          </div>
          {importPem.error && <ErrorNotice error={importPem.error} />}
          {importPem.isSuccess && (
            <p role="status" className="muted">
              Imported. A different key than the pinned one waits for your confirmation above.
            </p>
          )}
        </form>
      </details>
    </section>
  );
}

/**
 * The first pin's out-of-band check (issue 15 point 5): the pinned key is trusted on first sight
 * until someone compares its fingerprint with the one the gateway operator reads out, and says
 * who they are. Main checks the typed fingerprint against the pinned one (never this page).
 */
function PinConfirmation({
  which,
  profile,
  pinned,
  onDone,
}: {
  which: 'encryption' | 'signing';
  profile: GatewayProfileView;
  pinned: { spkiSha256: string; confirmed: GatewayPinConfirmation | null };
  onDone: () => void;
}) {
  const ids = useId();
  const [open, setOpen] = useState(false);
  const [fingerprint, setFingerprint] = useState('');
  const [by, setBy] = useState('');
  const [role, setRole] = useState('');
  const confirm = useMutation({
    mutationFn: () =>
      mkm().gateway.confirmPin({
        profileId: profile.id,
        key: which,
        fingerprint,
        by,
        ...(role.trim() ? { role } : {}),
      }),
    onSuccess: () => setOpen(false),
    onSettled: onDone,
  });
  const c = pinned.confirmed;
  if (c) {
    return (
      <p className="muted small" data-testid={`pin-confirmed-${which}`}>
        Fingerprint confirmed by {c.by}
        {c.role ? ` (${c.role})` : ''} on {when(c.at)}.
      </p>
    );
  }
  const what = which === 'encryption' ? 'public key' : 'signing key';
  return (
    <div className="notice notice-warning" role="status" data-testid={`pin-unconfirmed-${which}`}>
      <span>
        <strong>Pinned, unconfirmed.</strong> This {what} was pinned on first sight; nobody has compared its
        fingerprint with the gateway&apos;s yet. The compliance report counts it only once confirmed.
      </span>
      <ConfirmKeyDialog open={open} setOpen={setOpen} confirm={confirm} label="Confirm fingerprint…">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            confirm.mutate();
          }}
        >
          <AlertDialog.Title className="dialog-title">
            Confirm the gateway&apos;s {what} of “{profile.name}”
          </AlertDialog.Title>
          <AlertDialog.Description className="muted">
            Ask the gateway operator to read out the fingerprint of its {what} through another channel (phone,
            their portal), and type it below. It must be the one pinned here:
          </AlertDialog.Description>
          <p className="gw-fp" data-testid="pin-fingerprint">
            {fpGroups(pinned.spkiSha256)}
          </p>
          <div className="field">
            <label htmlFor={`${ids}-fp`}>Fingerprint read out by the gateway operator</label>
            <input
              id={`${ids}-fp`}
              className="gw-fp"
              spellCheck={false}
              autoComplete="off"
              value={fingerprint}
              maxLength={160}
              onChange={(e) => setFingerprint(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor={`${ids}-by`}>Your name</label>
            <input id={`${ids}-by`} value={by} maxLength={128} onChange={(e) => setBy(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor={`${ids}-role`}>Your role (optional)</label>
            <input
              id={`${ids}-role`}
              value={role}
              maxLength={128}
              placeholder="key custodian"
              onChange={(e) => setRole(e.target.value)}
            />
          </div>
          {confirm.error && <ErrorNotice error={confirm.error} />}
          <DialogActions
            kind="alert"
            pending={confirm.isPending}
            action={{
              label: 'Confirm: the fingerprints match',
              pendingLabel: 'Confirming…',
              tone: 'primary',
              type: 'submit',
              disabled: fingerprint.trim().length < 64 || !by.trim(),
            }}
          />
        </form>
      </ConfirmKeyDialog>
    </div>
  );
}

/** Opened from a button to confirm a gateway key; a failed attempt is forgotten when it closes. */
function ConfirmKeyDialog({
  open,
  setOpen,
  confirm,
  label,
  children,
}: {
  open: boolean;
  setOpen: (open: boolean) => void;
  confirm: { isPending: boolean; reset: () => void };
  label: string;
  children: ReactNode;
}) {
  return (
    <GuardedAlertDialog
      open={open}
      setOpen={setOpen}
      pending={confirm.isPending}
      onOpenChange={(next) => {
        if (!next) confirm.reset();
      }}
      trigger={
        <button type="button" className="push-right">
          {label}
        </button>
      }
    >
      {children}
    </GuardedAlertDialog>
  );
}

const ROTATION_TEXT = {
  encryption: {
    title: 'Accept the gateway’s new public key?',
    effect: 'Card data will be encrypted under the new key from then on.',
  },
  signing: {
    title: 'Accept the gateway’s new signing key?',
    effect:
      'Key sets signed by the new key will be accepted from then on (and none signed by anything else).',
  },
} as const;

function ConfirmRotation({
  which,
  profile,
  pinned,
  pending,
  onDone,
}: {
  which: 'encryption' | 'signing';
  profile: GatewayProfileView;
  pinned: { spkiSha256: string };
  pending: { spkiSha256: string; keyId: string | null };
  onDone: () => void;
}) {
  const [open, setOpen] = useState(false);
  const confirm = useMutation({
    mutationFn: (): Promise<unknown> =>
      which === 'encryption'
        ? mkm().gateway.confirmKeyRotation({ profileId: profile.id, fingerprint: pending.spkiSha256 })
        : mkm().gateway.confirmSigningKeyRotation({ profileId: profile.id, fingerprint: pending.spkiSha256 }),
    onSuccess: () => setOpen(false),
    onSettled: onDone,
  });
  return (
    <ConfirmKeyDialog open={open} setOpen={setOpen} confirm={confirm} label="Review the new key…">
      <AlertDialog.Title className="dialog-title">{ROTATION_TEXT[which].title}</AlertDialog.Title>
      <AlertDialog.Description className="muted">
        {ROTATION_TEXT[which].effect} Compare the new fingerprint with the one the gateway operator gave you
        through another channel; a key that does not match may be an attack.
      </AlertDialog.Description>
      <dl className="gw-compare">
        <dt>Pinned now</dt>
        <dd className="gw-fp" data-testid="rotation-old">
          {fpGroups(pinned.spkiSha256)}
        </dd>
        <dt>New key</dt>
        <dd className="gw-fp" data-testid="rotation-new">
          {fpGroups(pending.spkiSha256)}
        </dd>
        <dt>New key id</dt>
        <dd>{pending.keyId ?? '(imported PEM)'}</dd>
      </dl>
      {confirm.error && <ErrorNotice error={confirm.error} />}
      <DialogActions
        kind="alert"
        pending={confirm.isPending}
        cancelLabel="Keep the pinned key"
        action={{
          label: 'The fingerprints match: use the new key',
          pendingLabel: 'Confirming…',
          tone: 'primary',
          type: 'button',
          onClick: () => confirm.mutate(),
        }}
      />
    </ConfirmKeyDialog>
  );
}

/**
 * Contract 1.1: the key the gateway signs key sets with. A set it does not vouch for is refused,
 * so a rotation here stops the key rolling until the admin confirms it.
 */
function SigningKeyCard({ profile, status, failure, onChange }: CardProps) {
  const [pem, setPem] = useState('');
  const fetchKey = useMutation({
    mutationFn: () => mkm().gateway.fetchSigningKey({ profileId: profile.id }),
    onSettled: onChange,
  });
  const importPem = useMutation({
    mutationFn: () => mkm().gateway.importSigningKeyPem({ profileId: profile.id, pem }),
    onSuccess: () => setPem(''),
    onSettled: onChange,
  });
  const { pinned, pending, previous } = status.signingKey;
  return (
    <section className="card" aria-label="Gateway signing key">
      <PinnedKeyTitle
        title="Gateway signing key"
        status={status.signingKey.status}
        confirmed={!!pinned?.confirmed}
        fetchLabel="Fetch signing key"
        fetching={fetchKey.isPending}
        onFetch={() => fetchKey.mutate()}
      />
      {pending && pinned && (
        <div className="notice notice-warning" role="alert">
          <span>
            <strong>The gateway now signs key sets with a different key.</strong> Key sets are refused until
            you compare the fingerprints with the gateway operator and confirm.
          </span>
          <ConfirmRotation
            which="signing"
            profile={profile}
            pinned={pinned}
            pending={pending}
            onDone={onChange}
          />
        </div>
      )}
      {pinned ? (
        <Facts
          label="Pinned signing key"
          rows={[
            [
              'Fingerprint (SPKI SHA-256)',
              <span className="gw-fp" data-testid="signing-key-fingerprint">
                {fpGroups(pinned.spkiSha256)}
              </span>,
            ],
            ['Key id', pinned.keyId ?? '(imported PEM)'],
            ['Source', pinned.source === 'fetched' ? 'fetched from the gateway' : 'imported by hand'],
            ['Pinned since', when(pinned.seenAt)],
            ...previous.map((p): [string, ReactNode] => [
              `Previous key, accepted until ${when(p.acceptedUntil)}`,
              <span className="gw-fp">{fpGroups(p.spkiSha256)}</span>,
            ]),
          ]}
        />
      ) : null}
      {pinned ? (
        <PinConfirmation which="signing" profile={profile} pinned={pinned} onDone={onChange} />
      ) : (
        <p className="empty">
          No signing key pinned yet: key sets cannot be checked. Fetch it (the next sync does), or import its
          PEM.
        </p>
      )}
      {fetchKey.error && failure(fetchKey.error)}
      <details>
        <summary>Import the signing key’s PEM by hand</summary>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (pem.trim()) importPem.mutate();
          }}
        >
          <textarea
            aria-label="Gateway signing key (PEM)"
            className="gw-pem"
            spellCheck={false}
            maxLength={16_384}
            placeholder="-----BEGIN PUBLIC KEY-----"
            value={pem}
            onChange={(e) => setPem(e.target.value)}
          />
          <div className="button-row">
            <button type="submit" disabled={!pem.trim() || importPem.isPending}>
              {importPem.isPending ? 'Importing…' : 'Import signing key'}
            </button>
          </div>
          {importPem.error && <ErrorNotice error={importPem.error} />}
        </form>
      </details>
    </section>
  );
}

interface Row {
  keyId: string;
  token: ObjectInfo | null;
  gateway: GatewayMerchantKeyView | null;
}

function TransportKeysCard({ profile, status, failure, onChange }: CardProps) {
  const ids = useId();
  const { activeSlot, openLogin } = useTokens();
  const loggedIn = Boolean(activeSlot?.session.loggedIn);
  const tokenKeys = useQuery({
    queryKey: ['keys', 'list', activeSlot?.slotId, 'gateway-rsa'],
    queryFn: () => mkm().keys.list({ slotId: activeSlot!.slotId, class: 'private' }),
    enabled: loggedIn,
    select: (objects) => objects.filter((o) => o.keyType === 'rsa' && (o.bits ?? 0) >= 2048),
  });
  // The token side's own fingerprint of each key pair: the gateway's must be the same key.
  const tokenFingerprints = useQueries({
    queries: (tokenKeys.data ?? []).slice(0, 50).map((k) => ({
      queryKey: ['keys', 'exportPublic', activeSlot?.slotId, k.id],
      queryFn: () => mkm().keys.exportPublic({ slotId: activeSlot!.slotId, id: k.id, format: 'pem' }),
      select: (r: { spkiSha256: string }) => r.spkiSha256,
      staleTime: Infinity,
    })),
  });
  const tokenFp = new Map(
    (tokenKeys.data ?? []).slice(0, 50).map((k, i) => [k.id, tokenFingerprints[i]?.data ?? null] as const),
  );
  const [chosen, setChosen] = useState('');
  const blocked = useCapabilityBlock(activeSlot?.slotId ?? null, 'keyset-unwrap');
  const register = useMutation({
    mutationFn: (keyId: string) =>
      mkm().gateway.registerTransportKey({ profileId: profile.id, slotId: activeSlot!.slotId, keyId }),
    onSettled: onChange,
  });

  // The gateway's own list from the last sync is the authority; our records fill in between syncs.
  const atGateway = status.lastSync?.merchantKeys ?? status.merchantKeys;
  const rows = new Map<string, Row>();
  for (const k of tokenKeys.data ?? []) rows.set(k.id, { keyId: k.id, token: k, gateway: null });
  for (const g of atGateway) {
    const row = rows.get(g.keyId) ?? { keyId: g.keyId, token: null, gateway: null };
    row.gateway = {
      ...g,
      label: g.label ?? status.merchantKeys.find((m) => m.keyId === g.keyId)?.label ?? null,
    };
    rows.set(g.keyId, row);
  }
  const list = [...rows.values()];
  const registrable = (tokenKeys.data ?? []).filter(
    (k) => !atGateway.some((g) => g.keyId === k.id && g.status === 'retired'),
  );

  return (
    <section className="card" aria-label="Transport keys">
      <div className="card-title">
        <h3>Merchant transport keys</h3>
        <span className="muted small">the token’s RSA keys the gateway wraps key sets under</span>
      </div>
      {!loggedIn && (
        <p className="notice notice-info">
          <span>
            Log in to {activeSlot ? tokenLabel(activeSlot) : 'a token'} to see its keys and register one.
          </span>
          {activeSlot && (
            <button type="button" className="push-right" onClick={() => openLogin(activeSlot.slotId)}>
              Log in…
            </button>
          )}
        </p>
      )}
      {tokenKeys.error && <ErrorNotice error={tokenKeys.error} />}
      {list.length === 0 ? (
        <p className="empty">No transport key yet: register an RSA key pair of the token below.</p>
      ) : (
        <table className="table gw-table" aria-label="Transport keys on the token and at the gateway">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">On this token</th>
              <th scope="col">At the gateway</th>
              <th scope="col">Wrapping</th>
              <th scope="col">Fingerprint (SPKI SHA-256)</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={r.keyId}>
                <th scope="row">
                  {r.token?.label ?? r.gateway?.label ?? '(unnamed)'}
                  <div className="muted small mono">{r.keyId}</div>
                </th>
                <td>
                  {r.token ? (
                    <Badge tone="ok">present</Badge>
                  ) : (
                    <Badge tone={loggedIn ? 'warn' : 'neutral'}>
                      {loggedIn ? 'not on this token' : 'log in to see'}
                    </Badge>
                  )}
                </td>
                <td>
                  {r.gateway ? (
                    <>
                      <Badge tone={r.gateway.status === 'active' ? 'ok' : 'neutral'}>
                        {r.gateway.status}
                      </Badge>
                      <div className="muted small">
                        registered {when(r.gateway.registeredAt)}
                        {r.gateway.retiredAt && `, retired ${when(r.gateway.retiredAt)}`}
                      </div>
                    </>
                  ) : (
                    <Badge>not registered</Badge>
                  )}
                </td>
                <td>{r.gateway?.wrapping ?? '—'}</td>
                <td>
                  <Fingerprints
                    token={tokenFp.get(r.keyId) ?? null}
                    gateway={r.gateway?.spkiSha256 ?? null}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {loggedIn && (
        <form
          className="button-row"
          onSubmit={(e) => {
            e.preventDefault();
            if (chosen) register.mutate(chosen);
          }}
        >
          <label htmlFor={`${ids}-key`}>Register transport key</label>
          <select id={`${ids}-key`} value={chosen} onChange={(e) => setChosen(e.target.value)}>
            <option value="">Choose a token RSA key…</option>
            {registrable.map((k) => (
              <option key={k.id} value={k.id}>
                {k.label || '(no label)'} · RSA-{k.bits} · {k.id.slice(0, 12)}
              </option>
            ))}
          </select>
          <button
            type="submit"
            disabled={!chosen || register.isPending || blocked !== null}
            title={blocked?.message}
          >
            {register.isPending ? 'Registering…' : 'Register'}
          </button>
        </form>
      )}
      {registrable.length === 0 && loggedIn && tokenKeys.isSuccess && (
        <p className="muted small">
          The token has no RSA key pair of 2048 bits or more: generate one for the purpose “Gateway transport”
          in Keys.
        </p>
      )}
      {blocked && (
        <p className="notice notice-warn small" data-testid="capability-blocked">
          {blocked.message} <code className="code-chip">CAPABILITY_MISSING</code>
        </p>
      )}
      {register.error && failure(register.error)}
      {register.data && (
        <p role="status" className="notice notice-info">
          <span>
            {register.data.created ? 'Registered' : 'Already registered'} {register.data.keyId} with{' '}
            {register.data.wrapping} (the strongest the token can unwrap).{' '}
            {'refused' in register.data.keySet
              ? `The first key set was refused (${register.data.keySet.refused}); the next message asks for a fresh one.`
              : `First key set ${register.data.keySet.setId} installed in the token.`}
          </span>
        </p>
      )}
    </section>
  );
}

/** One fingerprint when both sides agree; both, flagged, when they do not. */
function Fingerprints({ token, gateway }: { token: string | null; gateway: string | null }) {
  if (token && gateway && token !== gateway) {
    return (
      <div role="alert">
        <Badge tone="danger">different keys</Badge>
        <div className="gw-fp">token {fpGroups(token)}</div>
        <div className="gw-fp">gateway {fpGroups(gateway)}</div>
      </div>
    );
  }
  const one = token ?? gateway;
  if (!one) return <>—</>;
  return (
    <span className="gw-fp">
      {fpGroups(one)}
      {token && gateway && (
        <>
          {' '}
          <Badge tone="ok" title="The gateway holds exactly the token's public key">
            same on both sides
          </Badge>
        </>
      )}
    </span>
  );
}

function KeySetCard({ profile, status, failure, onChange }: CardProps) {
  const ping = useMutation({
    mutationFn: () => mkm().gateway.ping({ profileId: profile.id }),
    onSettled: onChange,
  });
  const set = status.keySet;
  return (
    <section className="card" aria-label="Key set and secure ping">
      <div className="card-title">
        <h3>Current key set</h3>
        <button type="button" className="push-right" disabled={ping.isPending} onClick={() => ping.mutate()}>
          {ping.isPending ? 'Pinging…' : 'Secure ping'}
        </button>
      </div>
      {set ? (
        <Facts
          label="Current key set"
          rows={[
            [
              'Set id',
              <span className="mono" data-testid="key-set-id">
                {set.setId}
              </span>,
            ],
            ['Wrapped under', <span className="mono">{set.wrappingKeyId}</span>],
            ['Expires', when(set.expiresAt)],
            [
              'Used',
              set.inToken
                ? 'no: it carries the next message, once'
                : 'recorded by an earlier run and no longer in the token; the next message asks for a fresh set',
            ],
          ]}
        />
      ) : (
        <p className="empty">No key set yet. Sync, register a transport key, or ping to get one.</p>
      )}
      {ping.error && failure(ping.error)}
      {ping.data && (
        <p role="status" className="notice notice-info" data-testid="ping-result">
          <span>
            <strong>Pong</strong> from the gateway at {when(ping.data.serverTime)} under key set{' '}
            <span className="mono">{ping.data.setId}</span>;{' '}
            {'refused' in ping.data.nextKeySet
              ? `the next set was refused (${ping.data.nextKeySet.refused}).`
              : `next set ${ping.data.nextKeySet.setId} is in the token.`}
          </span>
        </p>
      )}
    </section>
  );
}

function RemoveProfile({ profile, onRemoved }: { profile: GatewayProfileView; onRemoved: () => void }) {
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const remove = useMutation({
    mutationFn: () => mkm().gateway.removeProfile({ profileId: profile.id, confirm: true }),
    onSuccess: () => {
      setOpen(false);
      void queryClient.invalidateQueries({ queryKey: gatewayKeys.all });
      onRemoved();
    },
  });
  return (
    <GuardedAlertDialog
      open={open}
      setOpen={setOpen}
      pending={remove.isPending}
      trigger={
        <button type="button" className="danger-outline">
          Remove…
        </button>
      }
    >
      <AlertDialog.Title className="dialog-title">Remove the profile “{profile.name}”?</AlertDialog.Title>
      <AlertDialog.Description className="muted">
        The app forgets this gateway, its pinned key and any password it kept. Keys on the token and
        registrations at the gateway are not touched. Adding the profile again starts with nothing pinned.
      </AlertDialog.Description>
      {remove.error && <ErrorNotice error={remove.error} />}
      <DialogActions
        kind="alert"
        pending={remove.isPending}
        cancelDisabled={false}
        action={{
          label: 'Remove profile',
          pendingLabel: 'Removing…',
          tone: 'danger',
          type: 'button',
          onClick: () => remove.mutate(),
        }}
      />
    </GuardedAlertDialog>
  );
}
