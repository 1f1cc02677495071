import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { transcriptPdf } from '../../../shared/print/transcript-pdf.std';
import { printableRecord, transcriptHtml } from '../../../shared/print/transcript-print.std';
import { mkm } from '../api.dom';
import { downloadText } from '../audit/auditFormat.dom';
import { ErrorNotice, Facts } from '../ui/bits.dom';
import { useSavedWhere } from '../ui/savedWhere.dom';

type TranscriptFormat = 'mkmx' | 'html' | 'pdf';

/**
 * The transcript of an ended ceremony: the signed record (.mkmx), or a print of it (HTML, PDF)
 * made here from the record main verified, so it shows nothing the record does not hold.
 */
async function transcriptFile(id: string, format: TranscriptFormat) {
  const t = await mkm().ceremony.transcript({ id });
  const base = t.fileName.replace(/\.mkmx$/, '');
  const file =
    format === 'mkmx'
      ? { body: t.text as string | Uint8Array<ArrayBuffer>, fileName: t.fileName, mime: 'application/json' }
      : format === 'html'
        ? { body: transcriptHtml(printableRecord(t.text)), fileName: `${base}.html`, mime: 'text/html' }
        : {
            body: (await transcriptPdf(printableRecord(t.text))) as Uint8Array<ArrayBuffer>,
            fileName: `${base}.pdf`,
            mime: 'application/pdf',
          };
  return { ...file, signer: t.signer, entries: t.entries };
}

/** The signed transcript of an ended ceremony, as a .mkmx file, and printable as HTML or PDF. */
export function DownloadTranscript({ id }: { id: string }) {
  const savedWhere = useSavedWhere();
  const [saved, setSaved] = useState<{
    fileName: string;
    signer: string;
    entries: number;
    ok: boolean;
  } | null>(null);
  const exporter = useMutation({
    mutationFn: (format: TranscriptFormat) => transcriptFile(id, format),
    onSuccess: (t) => {
      const ok = downloadText(t.body, t.fileName, t.mime);
      setSaved({ fileName: t.fileName, signer: t.signer, entries: t.entries, ok });
    },
  });
  return (
    <div className="stack">
      <div className="button-row" role="group" aria-label="Transcript">
        <button type="button" onClick={() => exporter.mutate('mkmx')} disabled={exporter.isPending}>
          Download the signed transcript (.mkmx)
        </button>
        <button type="button" onClick={() => exporter.mutate('html')} disabled={exporter.isPending}>
          Printable transcript (HTML)
        </button>
        <button type="button" onClick={() => exporter.mutate('pdf')} disabled={exporter.isPending}>
          Printable transcript (PDF)
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
