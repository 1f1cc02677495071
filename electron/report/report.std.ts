import {
  PCI_STATUS_LABELS,
  PCI_STATUSES,
  type PciEvidence,
  type PciReport,
  type PciStatus,
} from '../../shared/contract/report.std';
import { assessAll } from './pci-requirements.std';

export const REPORT_TITLE = 'PCI DSS v4.0 key management report (requirements 3.6 and 3.7)';

const DISCLAIMER =
  'This report is evidence from one Merchant Key Manager installation to support a PCI DSS assessment. It is not an assessment: requirement titles are paraphrased (see the PCI DSS v4.0 standard for the text), “met” means this installation’s records support the requirement, and the organization’s written procedures remain required for every requirement.';

/** The structured report from the evidence (pure). */
export function buildPciReport(
  evidence: PciEvidence,
  meta: { generatedAt: string; installation: PciReport['installation'] },
): PciReport {
  const requirements = assessAll(evidence);
  const summary = Object.fromEntries(PCI_STATUSES.map((s) => [s, 0])) as Record<PciStatus, number>;
  for (const r of requirements) summary[r.status] += 1;
  return {
    title: REPORT_TITLE,
    standard: 'PCI DSS v4.0',
    generatedAt: meta.generatedAt,
    installation: meta.installation,
    summary,
    requirements,
    evidence,
    disclaimer: DISCLAIMER,
  };
}

export const STATUS_LABELS: Record<PciStatus, string> = PCI_STATUS_LABELS;

/** `mkm-pci-report-20261123-2205.html`: local time of generation, sortable. */
export function reportFileName(generatedAt: string, format: 'html' | 'pdf'): string {
  const stamp = generatedAt.replace(/[-:]/g, '').replace('T', '-').slice(0, 13);
  return `mkm-pci-report-${stamp}.${format}`;
}
