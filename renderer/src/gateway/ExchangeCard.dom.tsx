import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import {
  EXCHANGE_DEFAULT_LIFETIME_DAYS,
  EXCHANGE_MAX_LIFETIME_DAYS,
  type ExchangeExport,
  type ExchangeItemView,
  type ExchangeSummary,
  type ExchangeVerification,
  type TrustedSigner,
} from '../../../shared/contract/exchange.std';
import type { ObjectInfo } from '../../../shared/tokens.std';
import { asMkmError, mkm } from '../api.dom';
import { downloadText } from '../audit/auditFormat.dom';
import { tokenLabel, useTokens } from '../tokens/TokenContext.dom';
import { AlertDialogContent, Badge, CopyButton, DialogActions, ErrorNotice, Facts } from '../ui/bits.dom';
import { fpGroups, gatewayKeys, needsPassword, when } from './format.dom';
import { formatKcv, keyTypeName } from '../../../shared/wording.std';

/**
 * Offline exchange packages (.mkmx) for one gateway profile: check and import a package that
 * came from the other machine, make one on the logged-in token, and the signers this
 * installation trusts. Every import is verified in main first; this card only shows what main
 * decided, and asks for a confirmation before anything is uploaded or pinned.
 */
const exchangeKeys = {
  signers: ['exchange', 'signers'] as const,
  policy: ['exchange', 'policy'] as const,
};
const MAX_FILE = 512 * 1024;

type Kind = 'registration' | 'gateway-key' | 'announcement';

function itemText(i: ExchangeItemView): { what: string; detail: string; fingerprint?: string } {
  switch (i.kind) {
    case 'registration-request':
      return {
        what: 'Registration request',
        detail: `${i.label} · rsa-${i.bits} · ${i.wrapping}`,
        fingerprint: i.spkiSha256,
      };
    case 'public-key':
      return {
        what: 'Public key',
        detail: `${i.label} · rsa-${i.bits}${i.purpose ? ` · ${i.purpose}` : ''}`,
        fingerprint: i.spkiSha256,
      };
    case 'kcv':
      return {
        what: 'Key check value',
        detail: `${i.label} · ${keyTypeName(i.keyType)} · KCV ${formatKcv(i.kcv)} (${i.method})`,
      };
    case 'gateway-key':
      return {
        what: 'Gateway public key',
        detail: `${i.padding} · from ${i.profile.baseUrl}`,
        fingerprint: i.spkiSha256,
      };
    case 'registration-receipt':
      return {
        what: 'Registration receipt',
        detail: `${i.keyId} · ${i.status} · ${when(i.registeredAt)}`,
        fingerprint: i.spkiSha256,
      };
  }
}

function Summary({ summary }: { summary: ExchangeSummary }) {
  return (
    <>
      <Facts
        label="Package"
        rows={[
          ['Purpose', summary.purpose],
          [
            'Made',
            `${when(summary.created)} by ${summary.producer.osUser} on ${summary.producer.token.label}`,
          ],
          ['Expires', when(summary.expires)],
          ['Signer', `${summary.signer.label} (rsa-${summary.signer.bits}, ${summary.algorithm})`],
          ['Signer fingerprint', <span className="gw-fp">{fpGroups(summary.signer.spkiSha256)}</span>],
        ]}
      />
      <table className="table">
        <caption className="muted small">Items</caption>
        <thead>
          <tr>
            <th scope="col">Item</th>
            <th scope="col">Details</th>
            <th scope="col">SPKI-SHA256</th>
          </tr>
        </thead>
        <tbody>
          {summary.items.map((item, n) => {
            const t = itemText(item);
            return (
              <tr key={n}>
                <td>{t.what}</td>
                <td>{t.detail}</td>
                <td className="gw-fp">{t.fingerprint ? fpGroups(t.fingerprint) : '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

/** The signer a refusal names when only trust was missing (details.signer), else null. */
function untrustedSigner(error: unknown): string | null {
  const e = asMkmError(error);
  const signer = e.details?.signer;
  return e.code === 'EXCHANGE_SIGNER_UNTRUSTED' && typeof signer === 'string' ? signer : null;
}

export function ExchangeCard({ profileId }: { profileId: string }) {
  return (
    <section className="card stack" aria-label="Offline exchange">
      <div className="card-title">
        <h3>Offline exchange</h3>
        <span className="muted small">signed .mkmx packages for an air-gapped machine</span>
      </div>
      <ReceivePackage profileId={profileId} />
      <MakePackage profileId={profileId} />
      <TrustedSigners />
    </section>
  );
}

function ReceivePackage({ profileId }: { profileId: string }) {
  const ids = useId();
  const queryClient = useQueryClient();
  const [file, setFile] = useState<{ name: string; text: string } | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [signer, setSigner] = useState('');
  const [confirming, setConfirming] = useState(false);
  const request = () => ({ package: file!.text, ...(signer.trim() ? { signer: signer.trim() } : {}) });
  const verify = useMutation({ mutationFn: () => mkm().exchange.verify(request()) });
  const importPkg = useMutation({
    mutationFn: () => mkm().exchange.import({ ...request(), profileId }),
    onSuccess: () => setConfirming(false),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: gatewayKeys.status(profileId) }),
  });
  const reset = () => {
    verify.reset();
    importPkg.reset();
  };
  const verified: ExchangeVerification | undefined = verify.data;
  const importable = verified && verified.summary.purpose !== 'key-announcement';
  const untrusted = untrustedSigner(verify.error);

  return (
    <div className="stack">
      <h4>Check or import a package</h4>
      <div className="field">
        <label htmlFor={`${ids}-file`}>Package file (.mkmx)</label>
        <input
          id={`${ids}-file`}
          type="file"
          accept=".mkmx,application/json"
          onChange={(e) => {
            reset();
            setFileError(null);
            const f = e.target.files?.[0];
            if (!f) return setFile(null);
            if (f.size > MAX_FILE) {
              setFile(null);
              return setFileError(
                `${f.name} is ${f.size} bytes; an exchange package is at most ${MAX_FILE}.`,
              );
            }
            void f.text().then((text) => setFile({ name: f.name, text }));
          }}
        />
        {fileError && (
          <p role="alert" className="notice notice-error">
            {fileError}
          </p>
        )}
      </div>
      <div className="field">
        <label htmlFor={`${ids}-signer`}>Signer fingerprint (SPKI-SHA256, as its owner told you)</label>
        <input
          id={`${ids}-signer`}
          className="mono"
          spellCheck={false}
          autoComplete="off"
          maxLength={128}
          placeholder="empty: only signers trusted here"
          value={signer}
          onChange={(e) => {
            setSigner(e.target.value);
            reset();
          }}
        />
      </div>
      <div className="button-row">
        <button type="button" disabled={!file || verify.isPending} onClick={() => verify.mutate()}>
          {verify.isPending ? 'Checking…' : 'Check package'}
        </button>
        <AlertDialog.Root open={confirming} onOpenChange={(o) => !importPkg.isPending && setConfirming(o)}>
          <AlertDialog.Trigger asChild>
            <button type="button" className="primary" disabled={!importable}>
              Import into {profileId}…
            </button>
          </AlertDialog.Trigger>
          <AlertDialog.Portal>
            <AlertDialog.Overlay className="overlay" />
            <AlertDialogContent className="dialog">
              <AlertDialog.Title className="dialog-title">
                {verified?.summary.purpose === 'registration-request'
                  ? `Upload ${verified.summary.items.length} registration(s) to the gateway of “${profileId}”?`
                  : `Pin this gateway key for “${profileId}”?`}
              </AlertDialog.Title>
              <AlertDialog.Description className="muted">
                The package is checked again before anything is done. A gateway key different from the pinned
                one waits for your confirmation as a rotation.
              </AlertDialog.Description>
              {importPkg.error && (
                <ErrorNotice error={importPkg.error}>
                  {needsPassword(asMkmError(importPkg.error)) &&
                    ' Enter it with “Password…” at the top of this profile, then import again.'}
                </ErrorNotice>
              )}
              <DialogActions
                kind="alert"
                pending={importPkg.isPending}
                action={{
                  label: 'Import',
                  pendingLabel: 'Importing…',
                  tone: 'primary',
                  type: 'button',
                  onClick: () => importPkg.mutate(),
                }}
              />
            </AlertDialogContent>
          </AlertDialog.Portal>
        </AlertDialog.Root>
      </div>
      {verify.error && (
        <ErrorNotice error={verify.error}>
          {untrusted && (
            <>
              {' '}
              Signer: <span className="gw-fp">{fpGroups(untrusted)}</span>
            </>
          )}
        </ErrorNotice>
      )}
      {verified && (
        <div className="stack" role="status">
          <p>
            <Badge tone="ok">Verified</Badge>{' '}
            {verified.trust.by === 'expected-fingerprint'
              ? 'Signature valid; the signer is the fingerprint you entered.'
              : `Signature valid; the signer is trusted here as “${verified.trust.name}”.`}
          </p>
          <Summary summary={verified.summary} />
          {!importable && (
            <p className="muted">A key announcement is for comparing keys; there is nothing to import.</p>
          )}
        </div>
      )}
      {importPkg.data && (
        <p role="status" className="notice notice-info">
          {importPkg.data.registrations
            ? `Registered at the gateway: ${importPkg.data.registrations
                .map((r) => `${r.keyId} (${r.created ? 'new' : 'already registered'})`)
                .join(', ')}.`
            : importPkg.data.gatewayKey?.status === 'rotation-pending'
              ? 'A different gateway key is pinned; the new one waits for your confirmation above.'
              : 'The gateway key is pinned for this profile.'}
        </p>
      )}
    </div>
  );
}

const isSigning = (o: ObjectInfo) =>
  o.class === 'private' && o.keyType === 'rsa' && o.usages.join() === 'sign';
const isTransport = (o: ObjectInfo) =>
  o.class === 'private' && o.keyType === 'rsa' && o.usages.join() === 'unwrap';
const isAnnounceable = (o: ObjectInfo) =>
  o.class === 'secret' || (o.class === 'private' && o.keyType === 'rsa');

function MakePackage({ profileId }: { profileId: string }) {
  const ids = useId();
  const { activeSlot } = useTokens();
  const slotId = activeSlot?.session.loggedIn ? activeSlot.slotId : null;
  const [kind, setKind] = useState<Kind>('registration');
  const [signingKeyId, setSigningKeyId] = useState('');
  const [keyIds, setKeyIds] = useState<string[]>([]);
  const [days, setDays] = useState(String(EXCHANGE_DEFAULT_LIFETIME_DAYS));
  const [saved, setSaved] = useState<boolean | null>(null);
  const objects = useQuery({
    queryKey: ['keys', 'list', slotId, true],
    queryFn: () => mkm().keys.list({ slotId: slotId! }),
    enabled: slotId !== null,
  });
  const make = useMutation({
    mutationFn: (): Promise<ExchangeExport> =>
      mkm().exchange.export({
        kind,
        slotId: slotId!,
        signingKeyId,
        ...(kind === 'gateway-key' ? { profileId } : { keyIds }),
        ...(days ? { expiresInDays: Number(days) } : {}),
      }),
    onSuccess: (made) => setSaved(downloadText(made.text, made.fileName, 'application/json')),
  });

  if (slotId === null) {
    return (
      <div className="stack">
        <h4>Make a package</h4>
        <p className="empty">Log in to the token that holds the signing key to make a package.</p>
      </div>
    );
  }
  const all = objects.data ?? [];
  const signers = all.filter(isSigning);
  const choices =
    kind === 'registration'
      ? all.filter(isTransport)
      : kind === 'announcement'
        ? all.filter(isAnnounceable)
        : [];
  const ready = signingKeyId !== '' && (kind === 'gateway-key' || keyIds.length > 0);

  return (
    <form
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        if (ready) make.mutate();
      }}
    >
      <h4>Make a package on {tokenLabel(activeSlot)}</h4>
      <div className="field">
        <label htmlFor={`${ids}-kind`}>What it carries</label>
        <select
          id={`${ids}-kind`}
          value={kind}
          onChange={(e) => {
            setKind(e.target.value as Kind);
            setKeyIds([]);
            make.reset();
          }}
        >
          <option value="registration">
            Registration request (transport keys, from the air-gapped token)
          </option>
          <option value="gateway-key">Gateway key of “{profileId}” and registration receipts</option>
          <option value="announcement">Key announcement (public keys and KCVs to compare)</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${ids}-signing`}>Signing key</label>
        <select id={`${ids}-signing`} value={signingKeyId} onChange={(e) => setSigningKeyId(e.target.value)}>
          <option value="">Choose…</option>
          {signers.map((o) => (
            <option key={o.id} value={o.id}>
              {o.label || o.id}
            </option>
          ))}
        </select>
        {objects.isSuccess && signers.length === 0 && (
          <span className="muted small">
            No signing key on this token yet: generate an RSA key with the purpose “signing”.
          </span>
        )}
      </div>
      {kind !== 'gateway-key' && (
        <fieldset className="field">
          <legend>Keys</legend>
          {choices.length === 0 && <span className="muted small">No suitable key on this token.</span>}
          {choices.map((o) => (
            <label key={`${o.class}-${o.id}`}>
              <input
                type="checkbox"
                checked={keyIds.includes(o.id)}
                onChange={(e) =>
                  setKeyIds((now) => (e.target.checked ? [...now, o.id] : now.filter((id) => id !== o.id)))
                }
              />{' '}
              {o.label || o.id} <span className="muted small">{keyTypeName(o.keyType)}</span>
            </label>
          ))}
        </fieldset>
      )}
      <div className="field">
        <label
          htmlFor={`${ids}-days`}
        >{`Expires after (days, 1 to ${EXCHANGE_MAX_LIFETIME_DAYS}; empty: ${EXCHANGE_DEFAULT_LIFETIME_DAYS})`}</label>
        <input
          id={`${ids}-days`}
          type="number"
          min={1}
          max={EXCHANGE_MAX_LIFETIME_DAYS}
          value={days}
          onChange={(e) => setDays(e.target.value)}
        />
      </div>
      <div className="button-row">
        <button type="submit" className="primary" disabled={!ready || make.isPending}>
          {make.isPending ? 'Signing on the token…' : 'Make and save package'}
        </button>
      </div>
      {make.error && <ErrorNotice error={make.error} />}
      {make.data && (
        <div className="stack" role="status">
          <p>
            {saved
              ? `Saved as ${make.data.fileName}.`
              : 'The download did not start; copy the package text instead.'}{' '}
            Read the signer fingerprint to the other machine’s admin by another channel:
          </p>
          <p className="gw-fp">{fpGroups(make.data.summary.signer.spkiSha256)}</p>
          <span className="button-row">
            <CopyButton text={make.data.summary.signer.spkiSha256} label="Copy fingerprint" />
            {!saved && <CopyButton text={make.data.text} label="Copy package text" />}
          </span>
          <Summary summary={make.data.summary} />
        </div>
      )}
    </form>
  );
}

function TrustedSigners() {
  const ids = useId();
  const queryClient = useQueryClient();
  const signers = useQuery({
    queryKey: exchangeKeys.signers,
    queryFn: () => mkm().exchange.trustedSigners(),
  });
  const [fingerprint, setFingerprint] = useState('');
  const [name, setName] = useState('');
  const refresh = () => void queryClient.invalidateQueries({ queryKey: exchangeKeys.signers });
  const trust = useMutation({
    mutationFn: () =>
      mkm().exchange.trustSigner({ spkiSha256: fingerprint.trim(), name: name.trim(), confirm: true }),
    onSuccess: () => {
      setFingerprint('');
      setName('');
    },
    onSettled: refresh,
  });

  return (
    <details>
      <summary>Trusted signers ({signers.data?.length ?? '…'})</summary>
      <div className="stack">
        <p className="muted small">
          Packages signed by these keys are accepted without typing a fingerprint. Add a signer only after
          comparing its fingerprint with its owner by another channel.
        </p>
        {signers.error && <ErrorNotice error={signers.error} onRetry={refresh} />}
        {signers.data?.length === 0 && <p className="empty">No trusted signers.</p>}
        {signers.data && signers.data.length > 0 && (
          <ul>
            {signers.data.map((s) => (
              <li key={s.spkiSha256}>
                <strong>{s.name}</strong> <span className="gw-fp">{fpGroups(s.spkiSha256)}</span>{' '}
                <span className="muted small">
                  added {when(s.addedAt)} by {s.addedBy}
                </span>{' '}
                <Untrust signer={s} onDone={refresh} />
              </li>
            ))}
          </ul>
        )}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (fingerprint.trim() && name.trim()) trust.mutate();
          }}
        >
          <div className="field">
            <label htmlFor={`${ids}-fp`}>Signer fingerprint</label>
            <input
              id={`${ids}-fp`}
              className="mono"
              spellCheck={false}
              autoComplete="off"
              maxLength={128}
              value={fingerprint}
              onChange={(e) => setFingerprint(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor={`${ids}-name`}>Who it is</label>
            <input
              id={`${ids}-name`}
              maxLength={128}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          </div>
          <div className="button-row">
            <button type="submit" disabled={!fingerprint.trim() || !name.trim() || trust.isPending}>
              {trust.isPending ? 'Adding…' : 'I compared it: trust this signer'}
            </button>
          </div>
          {trust.error && <ErrorNotice error={trust.error} />}
        </form>
        <SignaturePolicy />
      </div>
    </details>
  );
}

/** Whether PKCS#1 v1.5 signatures are accepted here, as exchange/policy.json says. */
function SignaturePolicy() {
  const queryClient = useQueryClient();
  const policy = useQuery({ queryKey: exchangeKeys.policy, queryFn: () => mkm().exchange.policy() });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: exchangeKeys.policy });
  const change = useMutation({
    mutationFn: (requirePss: boolean) => mkm().exchange.setPolicy({ requirePss, confirm: true }),
    onSettled: refresh,
  });
  if (policy.error) return <ErrorNotice error={policy.error} onRetry={refresh} />;
  if (!policy.data) return null;
  const { requirePss, changedAt, changedBy } = policy.data;
  return (
    <div className="stack">
      <p className="muted small">
        {requirePss
          ? 'Packages must be signed with RSASSA-PSS; PKCS#1 v1.5 signatures are refused.'
          : 'Packages signed with RSASSA-PSS or PKCS#1 v1.5 are accepted.'}
        {changedAt ? ` Set ${when(changedAt)} by ${changedBy}.` : ''}
      </p>
      <div className="button-row">
        <button type="button" disabled={change.isPending} onClick={() => change.mutate(!requirePss)}>
          {requirePss ? 'Accept PKCS#1 v1.5 signatures again' : 'Require RSASSA-PSS signatures'}
        </button>
      </div>
      {change.error && <ErrorNotice error={change.error} />}
    </div>
  );
}

function Untrust({ signer, onDone }: { signer: TrustedSigner; onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const remove = useMutation({
    mutationFn: () => mkm().exchange.untrustSigner({ spkiSha256: signer.spkiSha256, confirm: true }),
    onSuccess: () => setOpen(false),
    onSettled: onDone,
  });
  return (
    <AlertDialog.Root open={open} onOpenChange={(o) => !remove.isPending && setOpen(o)}>
      <AlertDialog.Trigger asChild>
        <button type="button">Remove…</button>
      </AlertDialog.Trigger>
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="overlay" />
        <AlertDialogContent className="dialog">
          <AlertDialog.Title className="dialog-title">Stop trusting “{signer.name}”?</AlertDialog.Title>
          <AlertDialog.Description className="muted">
            Its packages will need the fingerprint typed again to be accepted.
          </AlertDialog.Description>
          {remove.error && <ErrorNotice error={remove.error} />}
          <DialogActions
            kind="alert"
            pending={remove.isPending}
            cancelLabel="Keep"
            action={{
              label: 'Stop trusting',
              tone: 'danger',
              type: 'button',
              onClick: () => remove.mutate(),
            }}
          />
        </AlertDialogContent>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
}
