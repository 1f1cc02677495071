import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import {
  PCI_STATUS_LABELS,
  PCI_STATUSES,
  type PciExport,
  type PciReport,
  type PciRequirementResult,
} from '../../../shared/contract/report.std';
import { mkm } from '../api.dom';
import { Badge, ErrorNotice, Loading } from '../ui/bits.dom';
import { CustodianPanel } from './CustodianPanel.dom';
import { downloadExport, STATUS_TONES } from './reportFormat.dom';
import './compliance.css';
import { useSavedWhere } from '../ui/savedWhere.dom';
import { Timestamp } from '../ui/Timestamp.dom';

/**
 * PCI DSS v4 3.6/3.7: per requirement, a status chip and, when opened, why, what mkm does, what
 * the organization must do and the evidence from this installation. Key custodians acknowledge
 * their duties here (3.7.8). The report exports as printable HTML or PDF.
 */
export const REPORT_QUERY = ['report', 'pci'] as const;

export function ComplianceScreen() {
  const report = useQuery({
    queryKey: REPORT_QUERY,
    queryFn: () => mkm().report.pci({}),
    // Collecting evidence verifies the whole audit log: not on every focus.
    staleTime: 60_000,
    refetchOnWindowFocus: false,
  });
  return (
    <div className="stack">
      {report.error && <ErrorNotice error={report.error} onRetry={() => void report.refetch()} />}
      {report.isPending && <Loading>Collecting the evidence…</Loading>}
      {report.data && (
        <>
          <Overview
            report={report.data}
            refreshing={report.isFetching}
            onRefresh={() => void report.refetch()}
          />
          <Requirements
            report={report.data}
            section="3.6"
            title="3.6 — Keys that protect stored account data are secured"
          />
          <Requirements
            report={report.data}
            section="3.7"
            title="3.7 — Key management covers the whole key lifecycle"
          />
        </>
      )}
      <CustodianPanel />
    </div>
  );
}

function Overview({
  report,
  refreshing,
  onRefresh,
}: {
  report: PciReport;
  refreshing: boolean;
  onRefresh: () => void;
}) {
  const { inventory, token } = report.evidence;
  return (
    <section className="card stack" aria-labelledby="pci-overview-title">
      <div className="section-head">
        <h2 id="pci-overview-title">{report.standard} requirements 3.6 and 3.7</h2>
        <button type="button" className="push-right" onClick={onRefresh} disabled={refreshing}>
          {refreshing ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      <div className="pci-summary" aria-label="Summary" data-testid="pci-summary">
        {PCI_STATUSES.map((s) => (
          <Badge key={s} tone={STATUS_TONES[s]}>
            {PCI_STATUS_LABELS[s]}: {report.summary[s]}
          </Badge>
        ))}
        <span className="muted small report-collected">
          Collected <Timestamp at={report.generatedAt} />
        </span>
      </div>
      {!token.checked && (
        <p className="notice notice-info" data-testid="pci-token-note">
          <span>
            Token attributes were not checked ({token.reason}). Log in to the token to include them and to
            check the audit seals.
          </span>
        </p>
      )}
      {inventory.ok && inventory.logicalKeys === 0 && (
        <p className="notice notice-info">
          <span>
            No managed keys yet. Create keys under Keys; the key requirements then show their evidence.
          </span>
        </p>
      )}
      {!inventory.ok && (
        <p className="notice notice-warning">
          <span>The key inventory could not be read: {inventory.reason}</span>
        </p>
      )}
      <p className="muted small">{report.disclaimer}</p>
      <ExportButtons />
    </section>
  );
}

/** "12 met, 2 needs attention, …" in the report's own order, from what the export holds. */
function reportCounts(summary: PciExport['summary']): string {
  return PCI_STATUSES.map((s) => `${summary[s] ?? 0} ${PCI_STATUS_LABELS[s].toLowerCase()}`).join(', ');
}

function ExportButtons() {
  const savedText = useSavedWhere();
  const queryClient = useQueryClient();
  const [saved, setSaved] = useState<string | null>(null);
  const exporter = useMutation({
    mutationFn: (format: 'html' | 'pdf') => mkm().report.exportPci({ format }),
    onSuccess: (file) => {
      setSaved(
        downloadExport(file)
          ? `${savedText(file.fileName)} (${file.format.toUpperCase()}, ${file.bytes.toLocaleString()} bytes): the PCI DSS key-management report, ${reportCounts(file.summary)}.`
          : 'This window cannot save files; run “mkm report pci --out FILE” instead.',
      );
      // The export is audited, and its evidence is the newest there is.
      void queryClient.invalidateQueries({ queryKey: ['audit', 'query'] });
    },
  });
  return (
    <div className="stack">
      <div className="button-row" role="group" aria-label="Export the report">
        <button
          type="button"
          className="primary"
          onClick={() => exporter.mutate('html')}
          disabled={exporter.isPending}
        >
          Export HTML
        </button>
        <button type="button" onClick={() => exporter.mutate('pdf')} disabled={exporter.isPending}>
          Export PDF
        </button>
        <span
          role="status"
          aria-live="polite"
          className="muted small pci-export-note"
          data-testid="pci-export-status"
        >
          {exporter.isPending ? 'Preparing the report…' : (saved ?? '')}
        </span>
      </div>
      {exporter.error && <ErrorNotice error={exporter.error} />}
    </div>
  );
}

function Requirements({
  report,
  section,
  title,
}: {
  report: PciReport;
  section: '3.6' | '3.7';
  title: string;
}) {
  const id = `pci-section-${section.replace('.', '-')}`;
  return (
    <section className="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      <ul className="pci-requirements">
        {report.requirements
          .filter((r) => r.section === section)
          .map((r) => (
            <li key={r.id}>
              <Requirement requirement={r} />
            </li>
          ))}
      </ul>
    </section>
  );
}

function Requirement({ requirement: r }: { requirement: PciRequirementResult }) {
  return (
    <details className="pci-req" data-testid={`pci-req-${r.id}`}>
      <summary>
        <span className="pci-req-id">{r.id}</span>
        <span>{r.title}</span>
        <Badge tone={STATUS_TONES[r.status]}>{PCI_STATUS_LABELS[r.status]}</Badge>
        <span className="pci-req-why muted small">{r.why[0]}</span>
      </summary>
      <div className="pci-req-body">
        {r.why.length > 1 && (
          <ul className="pci-why">
            {r.why.slice(1).map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        )}
        {r.appliesTo === 'service-providers' && <p className="muted">Applies to service providers only.</p>}
        <table className="table">
          <caption className="sr-only">Evidence for {r.id}</caption>
          <tbody>
            <tr>
              <th scope="row">What mkm does</th>
              <td>{r.mkmDoes}</td>
            </tr>
            <tr>
              <th scope="row">What the organization must do</th>
              <td>{r.adminMust}</td>
            </tr>
            {r.facts.map((f) => (
              <tr key={f.label}>
                <th scope="row">{f.label}</th>
                <td>{f.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}
