import { PDFDocument, rgb } from 'pdf-lib';
import type { PciReport, PciStatus } from '../../shared/contract/report.std';
import { HEAD_FILL, layoutOn, MUTED, type Tone } from '../../shared/print/pdf-layout.std';
import { PCI_REQUIREMENT_IDS } from './pci-requirements.std';
import { reportHeadFacts, STATUS_LABELS } from './report.std';
import { managedTypeText } from '../../shared/wording.std';

const STATUS_COLOURS: Record<PciStatus, Tone> = {
  met: { ink: rgb(0.07, 0.36, 0.18), fill: rgb(0.89, 0.96, 0.91) },
  attention: { ink: rgb(0.48, 0.18, 0), fill: rgb(1, 0.94, 0.88) },
  manual: { ink: rgb(0.11, 0.25, 0.48), fill: rgb(0.9, 0.93, 0.99) },
  'n/a': { ink: MUTED, fill: HEAD_FILL },
};

/**
 * The report as a PDF, laid out by hand with pdf-lib's standard fonts (no font files to ship):
 * headings, a summary table, a facts table per requirement, the inventory and the custodians,
 * and on every page the generation date and "page i of n". Standard fonts only know WinAnsi, so
 * text is reduced to what they can draw (a name in another script shows as "?", never a crash).
 */
export async function renderPciPdf(report: PciReport): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const generated = new Date(report.generatedAt);
  doc.setTitle(report.title, { showInWindowTitleBar: true });
  doc.setSubject(`PCI DSS v4.0 requirements ${PCI_REQUIREMENT_IDS.join(', ')}`);
  doc.setKeywords(['PCI DSS', ...report.requirements.map((r) => r.id)]);
  doc.setAuthor(`Merchant Key Manager ${report.installation.appVersion}`);
  doc.setCreator(`Merchant Key Manager ${report.installation.appVersion}`);
  doc.setProducer('Merchant Key Manager (pdf-lib)');
  doc.setCreationDate(generated);
  doc.setModificationDate(generated);

  const l = await layoutOn(doc);

  l.text(report.title, { size: 16, font: l.bold, gap: 6 });
  l.table(
    null,
    reportHeadFacts(report, '  |  ').map((cells) => ({ cells })),
    [0.3, 0.7],
  );
  l.text(report.disclaimer, { size: 8.5, color: MUTED, gap: 8 });

  l.heading('Summary', 12);
  l.table(
    ['Requirement', 'Title', 'Status'],
    report.requirements.map((r) => ({
      cells: [r.id, r.title, STATUS_LABELS[r.status]],
      tone: STATUS_COLOURS[r.status],
    })),
    [0.14, 0.64, 0.22],
  );

  for (const [section, title] of [
    ['3.6', '3.6 - Cryptographic keys used to protect stored account data are secured'],
    ['3.7', '3.7 - Key-management processes and procedures cover the whole key lifecycle'],
  ] as const) {
    l.heading(title, 12);
    for (const r of report.requirements.filter((x) => x.section === section)) {
      l.ensure(90);
      l.text(`${r.id}  ${r.title}`, { size: 10.5, font: l.bold, gap: 2 });
      l.text(
        `Status: ${STATUS_LABELS[r.status]}${r.appliesTo === 'service-providers' ? ' (service providers only)' : ''}`,
        { size: 9, font: l.bold, color: STATUS_COLOURS[r.status].ink, gap: 2 },
      );
      for (const w of r.why) l.text(`- ${w}`, { size: 9, indent: 8, gap: 1 });
      l.y -= 3;
      l.table(
        null,
        [
          { cells: ['What mkm does', r.mkmDoes] },
          { cells: ['What the organization must do', r.adminMust] },
          ...r.facts.map((f) => ({ cells: [f.label, f.value] })),
        ],
        [0.32, 0.68],
      );
    }
  }

  const inv = report.evidence.inventory;
  l.heading('Key inventory', 12);
  if (!inv.ok) l.text(`The key inventory could not be read: ${inv.reason}`);
  else if (inv.keys.length === 0) l.text('No managed keys yet.');
  else
    l.table(
      ['Key', 'Purpose / type', 'Versions', 'Expires', 'Last rotation', 'Due'],
      inv.keys.map((k) => ({
        cells: [
          k.name,
          `${k.purpose} / ${managedTypeText(k.type)}`,
          `${k.versions}${k.primaryVersion === null ? ', no primary' : `, primary v${k.primaryVersion}`}`,
          k.primaryExpiresAt ?? '-',
          k.lastRotation ?? 'never rotated',
          k.pastCryptoPeriod ? `past crypto-period (${k.dueLevel})` : (k.dueLevel ?? '-'),
        ],
      })),
      [0.2, 0.18, 0.14, 0.17, 0.17, 0.14],
    );

  const c = report.evidence.custodians;
  l.heading('Key custodians', 12);
  l.text(`Responsibilities text in force: version ${c.textVersion}.`);
  if (c.list.length === 0) l.text('No key custodian has acknowledged their responsibilities yet.');
  else
    l.table(
      ['Name', 'Role', 'Text', 'Acknowledged', 'Status'],
      c.list.map((x) => ({
        cells: [
          x.name,
          x.role,
          `v${x.textVersion}`,
          x.acknowledgedAt,
          x.revokedAt ? `revoked ${x.revokedAt}` : x.current ? 'current' : 'older text',
        ],
      })),
      [0.24, 0.22, 0.08, 0.24, 0.22],
    );

  l.footers(
    `Merchant Key Manager - PCI DSS v4.0 3.6/3.7 report - generated ${report.generatedAt} - installation ${report.installation.id}`,
  );
  return doc.save();
}
