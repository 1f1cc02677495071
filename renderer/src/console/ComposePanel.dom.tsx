import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import {
  checkCompose,
  COMPOSE_FIELDS,
  COMPOSE_LABELS,
  type ComposeFieldName,
  type ComposeFields,
} from '../../../shared/console/compose.std';
import type { ConsoleEncryptResult, ConsoleScheme } from '../../../shared/contract/console.std';
import { TEST_CARDS } from '../../../shared/formats/test-cards.std';
import { mkm } from '../api.dom';
import { AlertDialogContent, Badge, CopyButton, DialogActions, Facts } from '../ui/bits.dom';
import { HistorySection } from './HistorySection.dom';
import {
  ConsoleError,
  consoleKeys,
  ProfileGate,
  ProfileSelect,
  SecretInput,
  useConsoleState,
  useProfiles,
  useProfileState,
} from './console-state.dom';

/**
 * Compose & encrypt: a test payload (presets from the networks' published test cards), checked
 * live (Luhn, ABA, expiration, CVV length per network), then encrypted with the profile's pinned
 * gateway key into the exact body a merchant's server sends, with a curl line to copy.
 */
const BANK_PRESET: ComposeFields = { accountNumber: '000123456789', routingNumber: '011000015' };
const FIELD_MODE: Record<ComposeFieldName, 'numeric' | 'text'> = {
  number: 'numeric',
  expiration: 'text',
  csc: 'numeric',
  swipe: 'text',
  accountNumber: 'numeric',
  routingNumber: 'numeric',
};
const PADDING_OF: Record<ConsoleScheme, 'RSAES-PKCS1-V1_5' | 'RSAES-OAEP-SHA256'> = {
  paytrace: 'RSAES-PKCS1-V1_5',
  oaep: 'RSAES-OAEP-SHA256',
};
const PLACEHOLDER: Partial<Record<ComposeFieldName, string>> = {
  expiration: 'MM/YY',
  swipe: '%B…^…^YYMM…? or ;PAN=YYMM…?',
};

function nextYear(): string {
  return String((new Date().getUTCFullYear() + 2) % 100).padStart(2, '0');
}

export function ComposePanel() {
  const profiles = useProfiles();
  const [shared, setShared] = useConsoleState();
  const fields = shared.fields;
  const setField = (name: ComposeFieldName, value: string) =>
    setShared({ fields: { ...fields, [name]: value } });
  const report = useMemo(() => checkCompose(fields), [fields]);
  const profileState = useProfileState(profiles.chosen?.id ?? null);
  const [scheme, setScheme] = useState<ConsoleScheme | ''>('');
  const [amount, setAmount] = useState('1.00');
  const queryClient = useQueryClient();

  const [confirmingOverride, setConfirmingOverride] = useState(false);

  const encrypt = useMutation({
    mutationFn: (overrideScheme: boolean): Promise<ConsoleEncryptResult> =>
      mkm().console.encrypt({
        profileId: profiles.chosen!.id,
        fields: Object.fromEntries(Object.entries(fields).filter(([, v]) => v)) as ComposeFields,
        amount,
        ...(scheme ? { scheme } : {}),
        ...(overrideScheme ? { overrideScheme: true } : {}),
      }),
    // The round trip verifies what was encrypted here: this scheme, and the override if confirmed.
    onSuccess: (r, overrideScheme) => setShared({ composed: { scheme: r.scheme, overrideScheme } }),
    onSettled: () => {
      setConfirmingOverride(false);
      void queryClient.invalidateQueries({ queryKey: consoleKeys.history });
    },
  });

  const preset = (value: string) => {
    encrypt.reset();
    if (value === 'bank') setShared({ fields: { ...BANK_PRESET } });
    else if (value) {
      const card = TEST_CARDS[Number(value)]!;
      setShared({
        fields: {
          number: card.pan,
          expiration: `12/${nextYear()}`,
          csc: card.network === 'amex' ? '1234' : '123',
        },
      });
    }
  };

  const key = profileState.data?.key ?? null;
  const effectiveScheme = scheme || profileState.data?.scheme || null;
  // A scheme the gateway's key is not for: encrypted only after an explicit confirmation.
  const mismatch = !!key && !!effectiveScheme && PADDING_OF[effectiveScheme] !== key.padding;

  return (
    // Composing and checking (Luhn, ABA, expiration, CVV) needs no gateway; only Encrypt does.
    <ProfileGate profiles={profiles} usableWithout>
      <div className="stack console-panel">
        <div className="console-row">
          {profiles.list.length > 0 && (
            <ProfileSelect
              id="compose-profile"
              list={profiles.list}
              chosen={profiles.chosen}
              onChoose={profiles.choose}
            />
          )}
          <div className="field">
            <label htmlFor="compose-preset">Preset</label>
            <select id="compose-preset" value="" onChange={(e) => preset(e.target.value)}>
              <option value="">Choose a test payload…</option>
              {TEST_CARDS.map((c, i) => (
                <option key={c.pan} value={String(i)}>
                  {c.label} ••••{c.pan.slice(-4)} ({c.source})
                </option>
              ))}
              <option value="bank">Bank account (ABA test routing number)</option>
            </select>
          </div>
        </div>
        {profileState.isError && <ConsoleError error={profileState.error} />}
        {profileState.data && !key && (
          <div className="notice notice-warning" role="status">
            No gateway public key is pinned for this profile: open <strong>Gateway</strong> and fetch it (or
            import its PEM) before encrypting.
          </div>
        )}

        <form
          className="console-compose"
          aria-label="Test payload"
          onSubmit={(e) => {
            e.preventDefault();
            if (mismatch) setConfirmingOverride(true);
            else encrypt.mutate(false);
          }}
        >
          <div className="console-fields">
            {COMPOSE_FIELDS.map((name) => {
              const findings = report.findings.filter((f) => f.field === name && fields[name]);
              const invalid = findings.some((f) => f.level === 'error');
              return (
                <div key={name} className="console-field">
                  <SecretInput
                    field={name}
                    label={COMPOSE_LABELS[name]}
                    value={fields[name] ?? ''}
                    onChange={(v) => setField(name, v)}
                    invalid={invalid}
                    describedBy={findings.length ? `finding-${name}` : undefined}
                    inputMode={FIELD_MODE[name]}
                    {...(PLACEHOLDER[name] ? { placeholder: PLACEHOLDER[name] } : {})}
                  />
                  <div id={`finding-${name}`} className="console-findings" aria-live="polite">
                    {findings.map((f) => (
                      <span key={f.code} className={`console-finding finding-${f.level}`} data-code={f.code}>
                        {f.level === 'ok' ? '✓' : f.level === 'warning' ? '!' : '✗'} {f.message}
                      </span>
                    ))}
                  </div>
                </div>
              );
            })}
          </div>
          <div className="console-row">
            <div className="field">
              <label htmlFor="compose-scheme">Scheme</label>
              <select
                id="compose-scheme"
                value={scheme}
                onChange={(e) => setScheme(e.target.value as ConsoleScheme | '')}
              >
                <option value="">
                  The profile&apos;s (
                  {profileState.data?.scheme === 'oaep' ? 'OAEP-SHA256' : 'PayTrace, PKCS#1 v1.5'})
                </option>
                <option value="paytrace">PayTrace (RSAES-PKCS1-v1_5)</option>
                <option value="oaep">RSAES-OAEP-SHA256</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor="compose-amount">Amount</label>
              <input
                id="compose-amount"
                value={amount}
                inputMode="decimal"
                onChange={(e) => setAmount(e.target.value)}
                pattern="\d{1,9}(\.\d{1,2})?"
              />
            </div>
          </div>
          <div className="button-row">
            {report.network && <Badge tone="info">{report.networkName}</Badge>}
            {report.testCard && <Badge tone="ok">published test card</Badge>}
            <button type="submit" className="primary" disabled={encrypt.isPending || !key}>
              {encrypt.isPending ? 'Encrypting…' : 'Encrypt'}
            </button>
            <button
              type="button"
              onClick={() => {
                setShared({ fields: {}, composed: null });
                encrypt.reset();
              }}
            >
              Clear
            </button>
          </div>
          {mismatch && (
            <p className="notice notice-warning" role="status" data-testid="scheme-mismatch">
              The gateway advertises {key.padding} for its key: a body made with {PADDING_OF[effectiveScheme]}{' '}
              will not decrypt there. Encrypt asks you to confirm.
            </p>
          )}
        </form>
        <AlertDialog.Root
          open={confirmingOverride}
          onOpenChange={(o) => !encrypt.isPending && setConfirmingOverride(o)}
        >
          <AlertDialog.Portal>
            <AlertDialog.Overlay className="overlay" />
            <AlertDialogContent className="dialog">
              <AlertDialog.Title className="dialog-title">
                Encrypt with a scheme the gateway cannot decrypt?
              </AlertDialog.Title>
              <AlertDialog.Description className="muted">
                The gateway advertises {key?.padding} for this key; you chose{' '}
                {effectiveScheme ? PADDING_OF[effectiveScheme] : ''}. The body will not decrypt there. The
                override is recorded in the audit log.
              </AlertDialog.Description>
              <DialogActions
                kind="alert"
                pending={encrypt.isPending}
                action={{
                  label: 'Encrypt anyway',
                  pendingLabel: 'Encrypting…',
                  tone: 'danger',
                  type: 'button',
                  onClick: () => encrypt.mutate(true),
                }}
              />
            </AlertDialogContent>
          </AlertDialog.Portal>
        </AlertDialog.Root>

        {encrypt.isError && <ConsoleError error={encrypt.error} />}
        {encrypt.data && <EncryptResult result={encrypt.data} />}
        <HistorySection />
        {!encrypt.data && key && (
          <p className="muted small">
            Encrypts with {effectiveScheme === 'oaep' ? 'RSAES-OAEP-SHA256' : 'RSAES-PKCS1-v1_5'} under the
            pinned key <code className="code-chip">{key.spkiSha256.slice(0, 16)}…</code> ({key.modulusBits}{' '}
            bits). Nothing typed here is stored; the history keeps masks only.
          </p>
        )}
      </div>
    </ProfileGate>
  );
}

function EncryptResult({ result }: { result: ConsoleEncryptResult }) {
  return (
    <section className="card stack" aria-label="Encrypted request">
      <div className="section-head">
        <h3 className="card-title">Request body</h3>
        <span className="push-right button-row">
          <CopyButton text={result.bodyJson} label="Copy JSON" />
          <CopyButton text={result.curl} label="Copy as curl" />
        </span>
      </div>
      <Facts
        label="Encryption"
        rows={[
          [
            'Endpoint',
            <code key="e" className="break">
              POST {result.endpoint}
            </code>,
          ],
          ['Padding', result.padding],
          [
            'Gateway key',
            <code key="k" className="break">
              {result.key.spkiSha256}
            </code>,
          ],
          ['Key id', result.key.keyId ?? 'imported PEM'],
        ]}
      />
      <pre className="mono-block console-body" data-testid="console-body">
        {result.bodyJson}
      </pre>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Bytes</th>
            <th scope="col">base64 characters</th>
          </tr>
        </thead>
        <tbody>
          {result.fields.map((f) => (
            <tr key={f.path}>
              <th scope="row">
                <code>{f.path}</code>
              </th>
              <td>{f.bytes} (the modulus length)</td>
              <td>{f.base64Length}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {result.notes.map((n) => (
        <p key={n} className="muted small">
          {n}
        </p>
      ))}
      <details>
        <summary>curl</summary>
        <pre className="mono-block">{result.curl}</pre>
        <p className="muted small">
          Replace &lt;ACCESS_TOKEN&gt; with a token from the gateway&apos;s /oauth/token; the console never
          puts a real one here.
        </p>
      </details>
    </section>
  );
}
