import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { BatchScheme } from '../../../shared/contract/console.std';
import { mkm } from '../api.dom';
import { Badge, Facts } from '../ui/bits.dom';
import { ConsoleError, consoleKeys, ProfileSelect, useProfiles } from './console-state.dom';

/**
 * Batch: every row of a CSV file on this computer encrypted into a CSV of ciphertexts (main
 * reads and writes the files; paths are typed, absolute). Progress comes as events; Cancel
 * stops at the next chunk and keeps what was written under a `.partial` name.
 */
interface Progress {
  fraction: number | null;
  message: string;
}

function newOperationId(): string {
  return `batch-${crypto.randomUUID()}`;
}

export function BatchPanel() {
  const profiles = useProfiles();
  const [inPath, setInPath] = useState('');
  const [outPath, setOutPath] = useState('');
  const [scheme, setScheme] = useState<BatchScheme>('paytrace');
  const [keyId, setKeyId] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const [operationId, setOperationId] = useState<string | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const queryClient = useQueryClient();

  useEffect(() => {
    if (!operationId) return;
    return mkm().events.on('progress', (p) => {
      if (p.operationId === operationId) setProgress({ fraction: p.fraction, message: p.message });
    });
  }, [operationId]);

  const run = useMutation({
    mutationFn: (id: string) =>
      mkm().console.batchStart({
        operationId: id,
        inPath: inPath.trim(),
        outPath: outPath.trim(),
        scheme,
        ...(scheme === 'aes' ? { keyId: keyId.trim() } : { profileId: profiles.chosen?.id ?? '' }),
        ...(overwrite ? { overwrite: true } : {}),
      }),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: consoleKeys.history }),
  });
  const cancel = useMutation({ mutationFn: (id: string) => mkm().console.batchCancel({ operationId: id }) });

  const start = () => {
    const id = newOperationId();
    setOperationId(id);
    setProgress({ fraction: 0, message: 'Starting…' });
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
          <label htmlFor="batch-in">Input CSV (full path)</label>
          <input
            id="batch-in"
            value={inPath}
            spellCheck={false}
            placeholder="/home/me/cards.csv"
            onChange={(e) => setInPath(e.target.value)}
            aria-describedby="batch-in-help"
          />
          <span id="batch-in-help" className="muted small">
            First line names the columns: number, exp, csc, swipe, account_number, routing_number, and an
            optional id. Other columns are dropped.
          </span>
        </div>
        <div className="field">
          <label htmlFor="batch-out">Output CSV (full path)</label>
          <input
            id="batch-out"
            value={outPath}
            spellCheck={false}
            placeholder="/home/me/cards.encrypted.csv"
            onChange={(e) => setOutPath(e.target.value)}
          />
        </div>
        <div className="console-row">
          <div className="field">
            <label htmlFor="batch-scheme">Scheme</label>
            <select
              id="batch-scheme"
              value={scheme}
              onChange={(e) => setScheme(e.target.value as BatchScheme)}
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
        <label className="check">
          <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} />
          Replace the output file if it exists
        </label>
        <div className="button-row">
          <button
            type="submit"
            className="primary"
            disabled={
              run.isPending || !inPath.trim() || !outPath.trim() || (scheme === 'aes' && !keyId.trim())
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
      {summary && (
        <section className="card stack" aria-label="Batch summary">
          <p>
            {summary.status === 'done' ? (
              <Badge tone="ok">done</Badge>
            ) : summary.status === 'cancelled' ? (
              <Badge tone="warn">cancelled</Badge>
            ) : (
              <Badge tone="danger">failed</Badge>
            )}{' '}
            {summary.rows.toLocaleString()} rows: {summary.encrypted.toLocaleString()} encrypted,{' '}
            {summary.failed.toLocaleString()} with errors (each in its own row).
          </p>
          {summary.error && <ConsoleError error={summary.error} />}
          <Facts
            rows={[
              [
                'Output',
                <code key="o" className="break">
                  {summary.outputPath || '(none written)'}
                </code>,
              ],
              ['Partial', summary.partial ? 'yes: not every row is in it' : 'no'],
              ['Columns', summary.columns.join(', ')],
              [
                'Speed',
                `${summary.rowsPerSecond.toLocaleString()} rows/s in ${(summary.elapsedMs / 1000).toFixed(1)} s`,
              ],
              ...(summary.keyFingerprint
                ? ([['Gateway key', summary.keyFingerprint]] as [string, string][])
                : []),
            ]}
          />
        </section>
      )}
    </div>
  );
}
