import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { mkm } from '../api.dom';
import { downloadText } from '../audit/auditFormat.dom';
import { ErrorNotice } from '../ui/bits.dom';
import { BundlePreview } from './BundlePreview.dom';
import './troubleshoot.css';
import { useSavedWhere } from '../ui/savedWhere.dom';

/**
 * The support bundle: build it, read exactly what it holds (redacted: no card data, PIN,
 * password or key material), then download it. The download is a blob: link, which the strict
 * CSP allows; where a browser refuses it, the text stays on screen to copy.
 */

function bundleFileName(now: Date): string {
  return `mkm-support-${now.toISOString().slice(0, 19).replace(/[:T]/g, '-')}.json`;
}

export function SupportPanel() {
  const savedText = useSavedWhere();
  const [saved, setSaved] = useState<{ fileName: string; ok: boolean } | null>(null);
  const preview = useMutation({ mutationFn: () => mkm().support.preview(), onMutate: () => setSaved(null) });
  const bundle = preview.data;

  return (
    <div className="stack ts">
      <section className="card" aria-label="Support bundle">
        <div className="card-title">
          <h3 className="ts-h">Support bundle</h3>
        </div>
        <p className="muted">
          One JSON file for support: app and module info, tokens and their flags, the capability probe, recent
          errors from the log, an audit excerpt, gateway profiles (no passwords) and the last diagnoses.
          Everything in it is redacted again before you see it; read it before you send it.
        </p>
        <div className="button-row">
          <button type="button" onClick={() => preview.mutate()} disabled={preview.isPending}>
            {preview.isPending ? 'Building…' : bundle ? 'Build again' : 'Build preview'}
          </button>
          <button
            type="button"
            className="primary"
            disabled={!bundle}
            onClick={() => {
              const fileName = bundleFileName(new Date());
              setSaved({ fileName, ok: downloadText(bundle!.content, fileName, 'application/json') });
            }}
          >
            Download
          </button>
          {bundle && (
            <span className="muted small" role="status">
              {bundle.bytes.toLocaleString()} bytes, sections: {bundle.sections.join(', ')}
            </span>
          )}
        </div>
        {saved && (
          <div role="status" className={`notice ${saved.ok ? 'notice-info' : 'notice-warning'}`}>
            {saved.ok
              ? `${savedText(saved.fileName)} (sha256 ${bundle?.sha256.slice(0, 16)}…).`
              : 'This browser did not start the download; select the text below and copy it.'}
          </div>
        )}
      </section>
      {preview.error && <ErrorNotice error={preview.error} onRetry={() => preview.mutate()} />}
      {bundle && (
        <section className="card" aria-label="Bundle preview">
          <BundlePreview content={bundle.content} />
        </section>
      )}
    </div>
  );
}
