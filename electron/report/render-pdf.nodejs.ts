import { PDFDocument, rgb, StandardFonts, type PDFFont, type PDFPage, type RGB } from 'pdf-lib';
import type { PciReport, PciStatus } from '../../shared/contract/report.std';
import { PCI_REQUIREMENT_IDS } from './pci-requirements.std';
import { reportHeadFacts, STATUS_LABELS } from './report.std';
import { managedTypeText } from '../../shared/wording.std';

/**
 * The report as a PDF, laid out by hand with pdf-lib's standard fonts (no font files to ship):
 * headings, a summary table, a facts table per requirement, the inventory and the custodians,
 * and on every page the generation date and "page i of n". Standard fonts only know WinAnsi, so
 * text is reduced to what they can draw (a name in another script shows as "?", never a crash).
 */
const A4: [number, number] = [595.28, 841.89];
const MARGIN = 48;
const WIDTH = A4[0] - 2 * MARGIN;
const FOOTER = 28;

const INK = rgb(0.11, 0.12, 0.14);
const MUTED = rgb(0.28, 0.31, 0.36);
const RULE = rgb(0.79, 0.81, 0.84);
const HEAD_FILL = rgb(0.945, 0.953, 0.965);

const STATUS_COLOURS: Record<PciStatus, { ink: RGB; fill: RGB }> = {
  met: { ink: rgb(0.07, 0.36, 0.18), fill: rgb(0.89, 0.96, 0.91) },
  attention: { ink: rgb(0.48, 0.18, 0), fill: rgb(1, 0.94, 0.88) },
  manual: { ink: rgb(0.11, 0.25, 0.48), fill: rgb(0.9, 0.93, 0.99) },
  'n/a': { ink: MUTED, fill: HEAD_FILL },
};

class Layout {
  page!: PDFPage;
  y = 0;
  readonly pages: PDFPage[] = [];

  constructor(
    readonly doc: PDFDocument,
    readonly regular: PDFFont,
    readonly bold: PDFFont,
  ) {
    this.newPage();
  }

  private readonly charset = new Set<number>();

  /** What the standard font can draw; everything else becomes "?". */
  clean(text: string): string {
    if (this.charset.size === 0) for (const c of this.regular.getCharacterSet()) this.charset.add(c);
    let out = '';
    for (const ch of text.replace(/\s+/g, ' ')) out += this.charset.has(ch.codePointAt(0)!) ? ch : '?';
    return out;
  }

  newPage(): void {
    this.page = this.doc.addPage(A4);
    this.pages.push(this.page);
    this.y = A4[1] - MARGIN;
  }

  ensure(height: number): void {
    if (this.y - height < MARGIN + FOOTER) this.newPage();
  }

  wrap(text: string, font: PDFFont, size: number, width: number): string[] {
    const lines: string[] = [];
    for (const para of this.clean(text).split('\n')) {
      let line = '';
      for (const word of para.split(' ')) {
        const candidate = line ? `${line} ${word}` : word;
        if (font.widthOfTextAtSize(candidate, size) <= width) {
          line = candidate;
          continue;
        }
        if (line) lines.push(line);
        // A word longer than the line (a fingerprint, a path) is cut where it must be.
        let rest = word;
        while (font.widthOfTextAtSize(rest, size) > width) {
          let n = rest.length - 1;
          while (n > 1 && font.widthOfTextAtSize(rest.slice(0, n), size) > width) n--;
          lines.push(rest.slice(0, n));
          rest = rest.slice(n);
        }
        line = rest;
      }
      lines.push(line);
    }
    return lines;
  }

  text(
    text: string,
    options: { size?: number; font?: PDFFont; color?: RGB; gap?: number; indent?: number } = {},
  ) {
    const size = options.size ?? 9.5;
    const font = options.font ?? this.regular;
    const indent = options.indent ?? 0;
    const lead = size * 1.35;
    for (const line of this.wrap(text, font, size, WIDTH - indent)) {
      this.ensure(lead);
      this.page.drawText(line, {
        x: MARGIN + indent,
        y: this.y - size,
        size,
        font,
        color: options.color ?? INK,
      });
      this.y -= lead;
    }
    this.y -= options.gap ?? 4;
  }

  heading(text: string, size: number): void {
    this.ensure(size * 3);
    this.y -= size * 0.6;
    this.text(text, { size, font: this.bold, gap: 2 });
    this.page.drawLine({
      start: { x: MARGIN, y: this.y },
      end: { x: MARGIN + WIDTH, y: this.y },
      thickness: 1,
      color: INK,
    });
    this.y -= 8;
  }

  /** A table whose rows are wrapped cells; `widths` are fractions of the text width. */
  table(header: string[] | null, body: { cells: string[]; status?: PciStatus }[], widths: number[]): void {
    const size = 8.5;
    const lead = size * 1.3;
    const pad = 3;
    const cols = widths.map((w) => w * WIDTH);
    const drawRow = (cells: string[], head: boolean, status?: PciStatus) => {
      const font = head ? this.bold : this.regular;
      const wrapped = cells.map((c, i) => this.wrap(c, font, size, cols[i]! - 2 * pad));
      const height = Math.max(...wrapped.map((l) => l.length)) * lead + 2 * pad;
      if (this.y - height < MARGIN + FOOTER) {
        this.newPage();
        if (header && !head) drawRow(header, true);
      }
      let x = MARGIN;
      wrapped.forEach((lines, i) => {
        const isStatus = status !== undefined && i === cells.length - 1;
        this.page.drawRectangle({
          x,
          y: this.y - height,
          width: cols[i]!,
          height,
          borderColor: RULE,
          borderWidth: 0.6,
          ...(head ? { color: HEAD_FILL } : isStatus ? { color: STATUS_COLOURS[status].fill } : {}),
        });
        lines.forEach((line, n) =>
          this.page.drawText(line, {
            x: x + pad,
            y: this.y - pad - size - n * lead + 1.5,
            size,
            font: isStatus ? this.bold : font,
            color: isStatus ? STATUS_COLOURS[status].ink : INK,
          }),
        );
        x += cols[i]!;
      });
      this.y -= height;
    };
    if (header) drawRow(header, true);
    for (const row of body) drawRow(row.cells, false, row.status);
    this.y -= 8;
  }
}

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

  const l = new Layout(
    doc,
    await doc.embedFont(StandardFonts.Helvetica),
    await doc.embedFont(StandardFonts.HelveticaBold),
  );

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
    report.requirements.map((r) => ({ cells: [r.id, r.title, STATUS_LABELS[r.status]], status: r.status })),
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

  const total = l.pages.length;
  l.pages.forEach((page, i) => {
    const footer = l.clean(
      `Merchant Key Manager - PCI DSS v4.0 3.6/3.7 report - generated ${report.generatedAt} - installation ${report.installation.id}`,
    );
    page.drawText(footer, { x: MARGIN, y: MARGIN - 14, size: 7, font: l.regular, color: MUTED });
    const num = `Page ${i + 1} of ${total}`;
    page.drawText(num, {
      x: MARGIN + WIDTH - l.regular.widthOfTextAtSize(num, 7),
      y: MARGIN - 26,
      size: 7,
      font: l.regular,
      color: MUTED,
    });
  });
  return doc.save();
}
