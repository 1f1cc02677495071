import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import {
  BATCH_UPLOAD_MAX_CHARS,
  type BatchScheme,
  type HeldFileView,
} from '../../../shared/contract/console.std';
import { MkmError } from '../../../shared/errors.std';
import { mkm } from '../api.dom';
import { downloadText } from '../audit/auditFormat.dom';
import { BatchResults } from './BatchResults.dom';
import { ConsoleError, consoleKeys, ProfileSelect, useProfiles, useProfileState } from './console-state.dom';
import { useSavedWhere } from '../ui/savedWhere.dom';

/**
 * Batch: every row of a CSV file encrypted into a CSV of ciphertexts. The page never names a
 * path: the desktop app picks the input and the output in main's own dialogs; browser mode
 * uploads the input through main and saves the output as a download. Progress comes as events;
 * Cancel stops at the next chunk (the desktop app keeps what was written under a `.partial` name).
 */
interface Progress {
  fraction: number | null;
  message: string;
}

function newOperationId(): string {
  return `batch-${crypto.randomUUID()}`;
}

export function BatchPanel() {
  const savedText = useSavedWhere();
  const profiles = useProfiles();
  const status = useQuery({ queryKey: ['app.status'], queryFn: () => mkm().app.status() });
  const desktop = status.data?.mode === 'electron';
  const [picked, setPicked] = useState<HeldFileView | null>(null);
  const [upload, setUpload] = useState<File | null>(null);
  // Unchosen: the scheme the gateway's pinned key advertises, the one it can decrypt.
  const [chosenScheme, setScheme] = useState<BatchScheme | ''>('');
  const [overrideScheme, setOverrideScheme] = useState(false);
  const gatewayKey = useProfileState(profiles.chosen?.id ?? null).data?.key ?? null;
  const gatewayScheme: BatchScheme = gatewayKey?.padding === 'RSAES-OAEP-SHA256' ? 'oaep' : 'paytrace';
  const scheme: BatchScheme = chosenScheme || gatewayScheme;
  const mismatch = scheme !== 'aes' && gatewayKey !== null && scheme !== gatewayScheme;
  const [keyId, setKeyId] = useState('');
  const [saved, setSaved] = useState<string | null>(null);
  const [operationId, setOperationId] = useState<string | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const queryClient = useQueryClient();

  useEffect(() => {
    if (!operationId) return;
    return mkm().events.on('progress', (p) => {
      if (p.operationId === operationId) setProgress({ fraction: p.fraction, message: p.message });
    });
  }, [operationId]);

  const pick = useMutation({
    mutationFn: () => mkm().console.batchPickInput(),
    onSuccess: (file) => file && setPicked(file),
  });
  const run = useMutation({
    mutationFn: async (id: string) => {
      let input = picked;
      if (!input && upload) {
        const content = await upload.text();
        if (content.length > BATCH_UPLOAD_MAX_CHARS) throw new MkmError('UPLOAD_TOO_LARGE');
        input = await mkm().console.batchUpload({ name: upload.name, content });
      }
      if (!input) throw new MkmError('VALIDATION', 'Choose the input file first.');
      // Each chosen input is used once by main: choose again for another run.
      setPicked(null);
      const summary = await mkm().console.batchStart({
        operationId: id,
        input: input.fileId,
        output: desktop ? 'dialog' : 'download',
        scheme,
        ...(scheme === 'aes' ? { keyId: keyId.trim() } : { profileId: profiles.chosen?.id ?? '' }),
        ...(mismatch && overrideScheme ? { overrideScheme: true } : {}),
      });
      if (summary.download) {
        const file = await mkm().console.batchDownload({ fileId: summary.download.fileId });
        setSaved(
          downloadText(file.content, file.fileName, file.mime)
            ? `${savedText(file.fileName)}.`
            : 'This browser did not start the download.',
        );
      }
      return summary;
    },
    onSettled: () => void queryClient.invalidateQueries({ queryKey: consoleKeys.history }),
  });
  const cancel = useMutation({ mutationFn: (id: string) => mkm().console.batchCancel({ operationId: id }) });

  const start = () => {
    const id = newOperationId();
    setOperationId(id);
    setProgress({ fraction: 0, message: 'Starting…' });
    setSaved(null);
    cancel.reset();
    run.mutate(id);
  };

  const summary = run.data;
  return (
    <div className="stack console-panel">
      <form
        className="stack"
        aria-label="Batch encryption"
        onSubmit={(e) => {
          e.preventDefault();
          start();
        }}
      >
        <div className="field">
          {desktop ? (
            <>
              <span id="batch-in-label">Input CSV</span>
              <div className="button-row" aria-labelledby="batch-in-label">
                <button type="button" onClick={() => pick.mutate()} disabled={pick.isPending}>
                  Choose file…
                </button>
                <span>
                  {picked ? `${picked.name} (${picked.bytes.toLocaleString()} bytes)` : 'none chosen'}
                </span>
              </div>
            </>
          ) : (
            <>
              <label htmlFor="batch-in">Input CSV</label>
              <input
                id="batch-in"
                type="file"
                accept=".csv,text/csv"
                onChange={(e) => setUpload(e.target.files?.[0] ?? null)}
                aria-describedby="batch-in-help"
              />
            </>
          )}
          <span id="batch-in-help" className="muted small">
            First line names the columns: number, exp, csc, swipe, account_number, routing_number, and an
            optional id. Other columns are dropped.{' '}
            {desktop
              ? 'You choose where the output goes when the batch starts.'
              : `The output is saved as a download; uploads up to ${(BATCH_UPLOAD_MAX_CHARS / 1_000_000).toLocaleString()} MB.`}
          </span>
          {pick.isError && <ConsoleError error={pick.error} />}
        </div>
        <div className="console-row">
          <div className="field">
            <label htmlFor="batch-scheme">Scheme</label>
            <select
              id="batch-scheme"
              value={scheme}
              onChange={(e) => {
                setScheme(e.target.value as BatchScheme);
                setOverrideScheme(false);
              }}
            >
              <option value="paytrace">PayTrace (RSA PKCS#1 v1.5, gateway key)</option>
              <option value="oaep">RSA OAEP-SHA256 (gateway key)</option>
              <option value="aes">AES-256-CBC with a token key</option>
            </select>
          </div>
          {scheme === 'aes' ? (
            <div className="field">
              <label htmlFor="batch-key">Token AES-256 key id (CKA_ID, hex)</label>
              <input
                id="batch-key"
                className="mono"
                value={keyId}
                spellCheck={false}
                onChange={(e) => setKeyId(e.target.value)}
              />
            </div>
          ) : profiles.list.length ? (
            <ProfileSelect
              id="batch-profile"
              list={profiles.list}
              chosen={profiles.chosen}
              onChoose={profiles.choose}
            />
          ) : (
            <p className="muted small">
              No gateway profile yet: add one under Gateway, or use a token AES key.
            </p>
          )}
        </div>
        {mismatch && (
          <div className="notice notice-warning stack" data-testid="batch-scheme-mismatch">
            <span>
              The gateway advertises {gatewayKey.padding} for its key: rows encrypted with{' '}
              {scheme === 'oaep' ? 'RSAES-OAEP-SHA256' : 'RSAES-PKCS1-V1_5'} will not decrypt there.
            </span>
            <label className="checkbox">
              <input
                type="checkbox"
                checked={overrideScheme}
                onChange={(e) => setOverrideScheme(e.target.checked)}
              />{' '}
              Encrypt with this scheme anyway (recorded in the audit log)
            </label>
          </div>
        )}
        <div className="button-row">
          <button
            type="submit"
            className="primary"
            disabled={
              run.isPending ||
              !(desktop ? picked : upload) ||
              (scheme === 'aes' && !keyId.trim()) ||
              (mismatch && !overrideScheme)
            }
          >
            {run.isPending ? 'Encrypting…' : 'Start batch'}
          </button>
          {run.isPending && operationId && (
            <button type="button" className="danger-outline" onClick={() => cancel.mutate(operationId)}>
              Cancel
            </button>
          )}
        </div>
      </form>

      {(run.isPending || summary) && progress && (
        <div className="stack" aria-live="polite">
          <progress
            className="console-progress"
            aria-label="Batch progress"
            max={1}
            value={summary?.status === 'done' ? 1 : (progress.fraction ?? undefined)}
          />
          <span className="muted small" role="status">
            {progress.message}
          </span>
        </div>
      )}
      {run.isError && <ConsoleError error={run.error} />}
      {summary && <BatchResults summary={summary} saved={saved} />}
    </div>
  );
}
