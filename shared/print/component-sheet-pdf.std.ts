import { PDFDocument, rgb, StandardFonts } from 'pdf-lib';
import type { ComponentSheet } from '../formats/component-sheet.std';
import { INK, layoutOn, MARGIN, MUTED, RULE, WIDTH } from './pdf-layout.std';

/**
 * A key component sheet as a PDF (issue 11 point 3): one page for one custodian, with their
 * component in groups of four, its typo checksum and KCVs, the key's KCVs, the ceremony id and
 * lines to sign. It holds a clear component, so it is made in the memory of the screen that
 * revealed the component, printed from there and dropped: mkm never writes one to disk. The
 * document carries no metadata beyond its title (no component in Subject or Keywords).
 */

const WARNING = { ink: rgb(0.48, 0.18, 0), fill: rgb(1, 0.94, 0.88) };

export async function componentSheetPdf(sheet: ComponentSheet): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.setTitle(`${sheet.title} - ceremony ${sheet.ceremonyId}`);
  doc.setProducer('Merchant Key Manager (pdf-lib)');
  doc.setCreator('Merchant Key Manager');
  const l = await layoutOn(doc);
  const mono = await doc.embedFont(StandardFonts.CourierBold);

  l.text(sheet.title, { size: 16, font: l.bold, gap: 2 });
  l.text(`SECRET - for ${sheet.custodian.name} only`, { size: 10, font: l.bold, color: WARNING.ink, gap: 8 });
  l.table(
    null,
    [
      { cells: ['Ceremony', sheet.ceremonyId] },
      { cells: ['Date (UTC)', sheet.date] },
      { cells: ['Key', `${sheet.key.label} (${sheet.key.typeText})`] },
      ...sheet.key.kcvs.map((k) => ({ cells: [`Key KCV, ${k.method}`, `${k.value} - ${k.methodText}`] })),
      { cells: ['Custodian', `${sheet.custodian.name} (${sheet.custodian.role})`] },
    ],
    [0.26, 0.74],
  );

  l.heading(`Component ${sheet.component.index} of ${sheet.component.count}`, 12);
  // Four groups to a line, large and in a fixed-width font: read back digit by digit.
  const size = 17;
  const groups = sheet.component.groups;
  for (let i = 0; i < groups.length; i += 4) {
    l.ensure(size * 1.6);
    l.page.drawText(groups.slice(i, i + 4).join('  '), {
      x: MARGIN + 12,
      y: l.y - size,
      size,
      font: mono,
      color: INK,
    });
    l.y -= size * 1.6;
  }
  l.y -= 6;
  l.table(
    null,
    [
      { cells: ['Checksum of the digits', sheet.component.checksum] },
      ...sheet.component.kcvs.map((k) => ({
        cells: [`Component KCV, ${k.method}`, `${k.value} - ${k.methodText}`],
      })),
    ],
    [0.26, 0.74],
  );
  l.table(
    null,
    sheet.instructions.map((text) => ({ cells: ['!', text], tone: WARNING })),
    [0.04, 0.96],
  );

  l.heading('Signatures', 12);
  for (const s of sheet.signatures) {
    l.ensure(56);
    l.y -= 30;
    l.page.drawLine({
      start: { x: MARGIN, y: l.y },
      end: { x: MARGIN + WIDTH * 0.55, y: l.y },
      thickness: 0.8,
      color: RULE,
    });
    l.page.drawLine({
      start: { x: MARGIN + WIDTH * 0.65, y: l.y },
      end: { x: MARGIN + WIDTH, y: l.y },
      thickness: 0.8,
      color: RULE,
    });
    l.y -= 4;
    l.text(`${s.caption}${s.name ? `: ${s.name}` : ''}`, { size: 8.5, gap: 0 });
    l.page.drawText('Date and time', {
      x: MARGIN + WIDTH * 0.65,
      y: l.y + 8.5 * 1.35 - 8.5,
      size: 8.5,
      font: l.regular,
      color: MUTED,
    });
  }
  l.footers(`Merchant Key Manager - key component sheet - ceremony ${sheet.ceremonyId} - SECRET`);
  return doc.save();
}
