import * as Tabs from '@radix-ui/react-tabs';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { kcvFeature } from '../../../shared/capability-gate.std';
import type { CsrSubject, ObjectInfo } from '../../../shared/tokens.std';
import { mkm } from '../api.dom';
import { useCapabilityBlock } from '../tokens/capabilityGate.dom';
import { Badge, CopyButton, ErrorNotice, Facts, Loading } from '../ui/bits.dom';
import { DestroyKeyDialog } from './DestroyKeyDialog.dom';
import { AUDIT_KEY_LABEL, AUDIT_KEY_NOTE, CLASS_NAMES, fingerprintText, typeText } from './keyFormat.dom';
import { formatKcv, usageNames } from '../../../shared/wording.std';

const yesNo = (v: boolean | null) => (v === null ? '—' : v ? 'Yes' : 'No');

/** One object: its attributes, and what can be done with it. */
export function KeyDetails({
  slotId,
  object,
  pair,
  onDestroyed,
}: {
  slotId: number;
  object: ObjectInfo;
  /** The other half of an RSA key pair, when it is on the token. */
  pair: ObjectInfo | null;
  onDestroyed: () => void;
}) {
  const isRsa = object.keyType === 'rsa' && (object.class === 'private' || object.class === 'public');
  const isSecret = object.class === 'secret';
  return (
    <section className="card key-details" aria-labelledby="key-details-h">
      <h2 id="key-details-h" className="card-title">
        <span className="ellipsis">{object.label || '(no label)'}</span>
        <Badge tone="neutral">{CLASS_NAMES[object.class]}</Badge>
        {object.keyType && <Badge tone="info">{typeText(object)}</Badge>}
      </h2>
      {object.label === AUDIT_KEY_LABEL && (
        <p className="notice notice-info">
          <span>{AUDIT_KEY_NOTE}</span>
        </p>
      )}
      <Facts
        label="Attributes"
        rows={[
          ['ID (CKA_ID)', object.id ? <code className="break">{object.id}</code> : '(none)'],
          ['Stored', object.token ? 'On the token' : 'Session object (gone when the session ends)'],
          ['Usages', object.usages.length ? usageNames(object.usages, object.keyType).join(', ') : '—'],
          ['Private (needs login)', yesNo(object.private)],
          ['Generated on the token', yesNo(object.local)],
          ['Sensitive', yesNo(object.sensitive)],
          ['Extractable', yesNo(object.extractable)],
          ['Always sensitive', yesNo(object.alwaysSensitive)],
          ['Never extractable', yesNo(object.neverExtractable)],
          ...(pair
            ? ([['Key pair', `The ${CLASS_NAMES[pair.class].toLowerCase()} is on the token too`]] as [
                string,
                string,
              ][])
            : []),
        ]}
      />
      {isSecret && <Kcv slotId={slotId} object={object} />}
      {isRsa && <PublicKey slotId={slotId} id={object.id} />}
      {isRsa && <Csr slotId={slotId} object={object.class === 'private' ? object : pair} />}
      <div className="danger-zone">
        <DestroyKeyDialog slotId={slotId} object={object} pair={pair} onDestroyed={onDestroyed} />
      </div>
    </section>
  );
}

function Kcv({ slotId, object }: { slotId: number; object: ObjectInfo }) {
  const { id } = object;
  const blocked = useCapabilityBlock(slotId, kcvFeature(object.keyType));
  const kcv = useQuery({
    queryKey: ['keys', 'kcv', slotId, id],
    queryFn: () => mkm().keys.kcv({ slotId, id }),
    enabled: blocked === null,
  });
  return (
    <section aria-labelledby="kcv-h" className="sub">
      <h3 id="kcv-h">Key check value</h3>
      {blocked && (
        <p className="notice notice-warn small" data-testid="capability-blocked">
          {blocked.message} <code className="code-chip">CAPABILITY_MISSING</code>
        </p>
      )}
      {!blocked && kcv.isPending && <Loading>Computing the KCV on the token…</Loading>}
      {kcv.error && <ErrorNotice error={kcv.error} onRetry={() => void kcv.refetch()} />}
      {kcv.data && (
        <p className="kcv">
          <code data-testid="kcv" className="big-code">
            {formatKcv(kcv.data.kcv)}
          </code>{' '}
          <Badge tone="neutral" title="How the check value is computed">
            {kcv.data.method === 'cmac'
              ? 'method: cmac (AES-CMAC of 16 zero bytes)'
              : 'method: hmac (HMAC-SHA256 of 16 zero bytes)'}
          </Badge>
          <CopyButton text={formatKcv(kcv.data.kcv)} label="Copy KCV" />
        </p>
      )}
      <p className="muted small">Compare it with the value the gateway or the other key holder reads out.</p>
    </section>
  );
}

function PublicKey({ slotId, id }: { slotId: number; id: string }) {
  const [format, setFormat] = useState<'pem' | 'jwk'>('pem');
  const exported = useQuery({
    queryKey: ['keys', 'export', slotId, id, format],
    queryFn: () => mkm().keys.exportPublic({ slotId, id, format }),
  });
  const text = exported.data
    ? format === 'pem'
      ? (exported.data.pem ?? '')
      : JSON.stringify(exported.data.jwk ?? {}, null, 2)
    : '';
  return (
    <section aria-labelledby="pub-h" className="sub">
      <h3 id="pub-h">Public key</h3>
      {exported.data && (
        <Facts
          rows={[
            [
              'SPKI-SHA256 fingerprint',
              <code key="fp" data-testid="fingerprint" className="break">
                <Fingerprint hex={exported.data.spkiSha256} />
              </code>,
            ],
            ['Modulus', `${exported.data.bits} bits`],
          ]}
        />
      )}
      <Tabs.Root value={format} onValueChange={(v) => setFormat(v as 'pem' | 'jwk')}>
        <Tabs.List aria-label="Public key format" className="seg">
          <Tabs.Trigger value="pem">PEM</Tabs.Trigger>
          <Tabs.Trigger value="jwk">JWK</Tabs.Trigger>
        </Tabs.List>
        {(['pem', 'jwk'] as const).map((f) => (
          <Tabs.Content key={f} value={f} className="tab-body" tabIndex={-1}>
            {exported.isPending && <Loading>Reading the public key…</Loading>}
            {exported.error && <ErrorNotice error={exported.error} onRetry={() => void exported.refetch()} />}
            {exported.data && (
              <>
                <textarea
                  readOnly
                  className="mono-block"
                  aria-label={`Public key as ${f.toUpperCase()}`}
                  value={text}
                  rows={f === 'pem' ? 9 : 8}
                  spellCheck={false}
                />
                <CopyButton text={text} label={`Copy ${f.toUpperCase()}`} />
              </>
            )}
          </Tabs.Content>
        ))}
      </Tabs.Root>
    </section>
  );
}

/** Colon-separated bytes in groups of eight, which wrap between groups, never inside one. */
function Fingerprint({ hex }: { hex: string }) {
  const text = fingerprintText(hex);
  const groups = text.match(/(?:[0-9A-F]{2}:?){1,8}/g) ?? [];
  return (
    <span aria-label={text}>
      {groups.map((g, i) => (
        <span key={i} className="fp-group">
          {g}
        </span>
      ))}
    </span>
  );
}

function Csr({ slotId, object }: { slotId: number; object: ObjectInfo | null }) {
  const csr = useMutation({
    mutationFn: (subject: CsrSubject) => mkm().keys.csr({ slotId, id: object!.id, subject }),
  });
  if (!object) return null;
  const canSign = object.usages.includes('sign');
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const get = (k: string) => String(data.get(k) ?? '').trim();
    const subject: CsrSubject = { commonName: get('cn') };
    if (get('o')) subject.organization = get('o');
    if (get('ou')) subject.organizationalUnit = get('ou');
    if (get('c')) subject.country = get('c').toUpperCase();
    csr.mutate(subject);
  };
  return (
    <section aria-labelledby="csr-h" className="sub">
      <h3 id="csr-h">Certificate signing request</h3>
      {!canSign ? (
        <p className="muted">
          {/* Said from the key's own usages, so it agrees with the purpose text. */}
          This key can only {usageNames(object.usages, object.keyType).join(' and ') || 'be stored'}: it
          cannot sign a request. Generate a key pair with the “Signing” purpose for a CSR.
        </p>
      ) : (
        <form onSubmit={submit} className="csr-form">
          <div className="field">
            <label htmlFor="csr-cn">Common name</label>
            <input id="csr-cn" name="cn" required maxLength={256} autoComplete="off" />
          </div>
          <div className="field">
            <label htmlFor="csr-o">Organization</label>
            <input id="csr-o" name="o" maxLength={256} autoComplete="organization" />
          </div>
          <div className="field">
            <label htmlFor="csr-ou">Unit</label>
            <input id="csr-ou" name="ou" maxLength={256} autoComplete="off" />
          </div>
          <div className="field narrow">
            <label htmlFor="csr-c">Country</label>
            <input
              id="csr-c"
              name="c"
              maxLength={2}
              pattern="[A-Za-z]{2}"
              title="Two letters, e.g. US"
              autoComplete="country"
            />
          </div>
          <button type="submit" disabled={csr.isPending}>
            {csr.isPending ? 'Signing on the token…' : 'Create CSR'}
          </button>
        </form>
      )}
      {csr.error && <ErrorNotice error={csr.error} />}
      {csr.data && (
        <>
          <textarea
            readOnly
            className="mono-block"
            aria-label="Certificate signing request (PEM)"
            value={csr.data.pem}
            rows={8}
          />
          <CopyButton text={csr.data.pem} label="Copy CSR" />
        </>
      )}
    </section>
  );
}
