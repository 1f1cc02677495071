import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { mkm } from '../api.dom';
import { downloadText } from '../audit/auditFormat.dom';
import { ErrorNotice, Facts } from '../ui/bits.dom';
import { useSavedWhere } from '../ui/savedWhere.dom';

/** The signed transcript of an ended ceremony, as a .mkmx file. */
export function DownloadTranscript({ id }: { id: string }) {
  const savedWhere = useSavedWhere();
  const [saved, setSaved] = useState<{
    fileName: string;
    signer: string;
    entries: number;
    ok: boolean;
  } | null>(null);
  const exporter = useMutation({
    mutationFn: () => mkm().ceremony.transcript({ id }),
    onSuccess: (t) => {
      const ok = downloadText(t.text, t.fileName, 'application/json');
      setSaved({ fileName: t.fileName, signer: t.signer, entries: t.entries, ok });
    },
  });
  return (
    <div className="stack">
      <div className="button-row">
        <button type="button" onClick={() => exporter.mutate()} disabled={exporter.isPending}>
          Download the signed transcript (.mkmx)
        </button>
      </div>
      {exporter.error && <ErrorNotice error={exporter.error} />}
      {saved && (
        <p role="status" className={`notice ${saved.ok ? 'notice-info' : 'notice-error'}`}>
          <span>
            {saved.ok
              ? `${savedWhere(saved.fileName)}: ${saved.entries} entries, signed by key ${saved.signer}.`
              : 'This browser cannot save files here; nothing was saved.'}
          </span>
        </p>
      )}
    </div>
  );
}

/** Checks a transcript file: its hash chain, its script hash and its signature. */
export function VerifyTranscript() {
  const [expected, setExpected] = useState('');
  const verifier = useMutation({
    mutationFn: async (file: File) =>
      mkm().ceremony.verifyTranscript({
        text: await file.text(),
        ...(expected.trim() ? { expectedSigner: expected.trim() } : {}),
      }),
  });
  const result = verifier.data;
  return (
    <section className="card" aria-labelledby="ceremony-verify-title">
      <h2 id="ceremony-verify-title" className="card-title">
        Verify a transcript
      </h2>
      <div className="cer-grid">
        <div className="field">
          <label htmlFor="cer-verify-signer">Expected signer (SPKI SHA-256, optional)</label>
          <input
            id="cer-verify-signer"
            value={expected}
            spellCheck={false}
            autoComplete="off"
            onChange={(e) => setExpected(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="cer-verify-file">Transcript file (.mkmx)</label>
          <input
            id="cer-verify-file"
            type="file"
            accept=".mkmx,application/json"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) verifier.mutate(file);
              e.target.value = '';
            }}
          />
        </div>
      </div>
      {verifier.error && <ErrorNotice error={verifier.error} />}
      {result && (
        <div role="status" className="notice notice-info" data-testid="transcript-verified">
          <span>
            <strong>Verified:</strong> the chain, the script hash and the signature hold.
          </span>
        </div>
      )}
      {result && (
        <Facts
          label="Verified transcript"
          rows={[
            ['Ceremony', result.title],
            ['State', result.state],
            ['Entries', String(result.entries)],
            ['Signer (SPKI SHA-256)', <code key="s">{result.signer}</code>],
            ['Participants', result.participants.map((p) => `${p.name} (${p.role})`).join(', ')],
          ]}
        />
      )}
    </section>
  );
}
