import { rgb, StandardFonts, type PDFDocument, type PDFFont, type PDFPage, type RGB } from 'pdf-lib';

/**
 * A page layout by hand with pdf-lib's standard fonts (no font files to ship): wrapped text,
 * headings, tables of wrapped cells, pages added as needed. Pure, so the report (main), the
 * ceremony transcript (CLI and renderer) and a component sheet (renderer only: it never leaves
 * its memory) print alike. Standard fonts only know WinAnsi, so text is reduced to what they can
 * draw (a name in another script shows as "?", never a crash).
 */
export const A4: [number, number] = [595.28, 841.89];
export const MARGIN = 48;
export const WIDTH = A4[0] - 2 * MARGIN;
export const FOOTER = 28;

export const INK = rgb(0.11, 0.12, 0.14);
export const MUTED = rgb(0.28, 0.31, 0.36);
export const RULE = rgb(0.79, 0.81, 0.84);
export const HEAD_FILL = rgb(0.945, 0.953, 0.965);

/** How a table's last cell is set off: its ink and its fill (a status, a warning). */
export interface Tone {
  ink: RGB;
  fill: RGB;
}

export class Layout {
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
  table(header: string[] | null, body: { cells: string[]; tone?: Tone }[], widths: number[]): void {
    const size = 8.5;
    const lead = size * 1.3;
    const pad = 3;
    const cols = widths.map((w) => w * WIDTH);
    const drawRow = (cells: string[], head: boolean, tone?: Tone) => {
      const font = head ? this.bold : this.regular;
      const wrapped = cells.map((c, i) => this.wrap(c, font, size, cols[i]! - 2 * pad));
      const height = Math.max(...wrapped.map((l) => l.length)) * lead + 2 * pad;
      if (this.y - height < MARGIN + FOOTER) {
        this.newPage();
        if (header && !head) drawRow(header, true);
      }
      let x = MARGIN;
      wrapped.forEach((lines, i) => {
        const isStatus = tone !== undefined && i === cells.length - 1;
        this.page.drawRectangle({
          x,
          y: this.y - height,
          width: cols[i]!,
          height,
          borderColor: RULE,
          borderWidth: 0.6,
          ...(head ? { color: HEAD_FILL } : isStatus ? { color: tone.fill } : {}),
        });
        lines.forEach((line, n) =>
          this.page.drawText(line, {
            x: x + pad,
            y: this.y - pad - size - n * lead + 1.5,
            size,
            font: isStatus ? this.bold : font,
            color: isStatus ? tone.ink : INK,
          }),
        );
        x += cols[i]!;
      });
      this.y -= height;
    };
    if (header) drawRow(header, true);
    for (const row of body) drawRow(row.cells, false, row.tone);
    this.y -= 8;
  }

  /** On every page: the footer text and "Page i of n". */
  footers(text: string): void {
    const total = this.pages.length;
    const footer = this.clean(text);
    this.pages.forEach((page, i) => {
      page.drawText(footer, { x: MARGIN, y: MARGIN - 14, size: 7, font: this.regular, color: MUTED });
      const num = `Page ${i + 1} of ${total}`;
      page.drawText(num, {
        x: MARGIN + WIDTH - this.regular.widthOfTextAtSize(num, 7),
        y: MARGIN - 26,
        size: 7,
        font: this.regular,
        color: MUTED,
      });
    });
  }
}

/** A layout on a new document, in Helvetica and Helvetica Bold. */
export async function layoutOn(doc: PDFDocument): Promise<Layout> {
  return new Layout(
    doc,
    await doc.embedFont(StandardFonts.Helvetica),
    await doc.embedFont(StandardFonts.HelveticaBold),
  );
}
