import { PDFDocument, rgb } from 'pdf-lib';
import { layoutOn, MUTED } from './pdf-layout.std';
import { transcriptPrint, type PrintableRecord } from './transcript-print.std';

const EXCEPTION = { ink: rgb(0.48, 0.18, 0), fill: rgb(1, 0.94, 0.88) };

/** The transcript as a PDF: what `transcriptHtml` shows, laid out for paper. */
export async function transcriptPdf(record: PrintableRecord): Promise<Uint8Array> {
  const p = transcriptPrint(record);
  const doc = await PDFDocument.create();
  const closed = new Date(record.ceremony.closedAt);
  doc.setTitle(p.title, { showInWindowTitleBar: true });
  doc.setSubject(`Key ceremony ${record.ceremony.id}`);
  doc.setCreator(`Merchant Key Manager ${record.ceremony.app.version}`);
  doc.setProducer('Merchant Key Manager (pdf-lib)');
  // The ceremony's own date, not now: the same transcript prints to the same file.
  if (!Number.isNaN(closed.getTime())) {
    doc.setCreationDate(closed);
    doc.setModificationDate(closed);
  }
  const l = await layoutOn(doc);
  l.text(p.title, { size: 15, font: l.bold, gap: 6 });
  l.table(
    null,
    p.heading.map((cells) => ({ cells })),
    [0.24, 0.76],
  );

  l.heading('Participants', 12);
  l.table(
    ['Name', 'Role', 'Signed off'],
    p.participants.map((x) => ({ cells: [x.name, x.role, x.signedOff] })),
    [0.4, 0.25, 0.35],
  );

  l.heading('Witness exceptions', 12);
  if (p.exceptions.length === 0) l.text('None recorded.');
  else
    l.table(
      ['Time', 'By', 'Exception'],
      p.exceptions.map((x) => ({ cells: [x.at, x.by, x.text], tone: EXCEPTION })),
      [0.22, 0.28, 0.5],
    );

  l.heading('Entries', 12);
  l.table(
    ['#', 'Time', 'What', 'Who', 'Recorded'],
    p.entries.map((x) => ({
      cells: [
        String(x.seq),
        x.at,
        x.what,
        x.who,
        [...x.details.map(([k, v]) => `${k}: ${v}`), `entry hash: ${x.hash}`].join('; '),
      ],
    })),
    [0.05, 0.15, 0.2, 0.18, 0.42],
  );

  l.heading('Signature', 12);
  l.table(
    null,
    p.signature.map((cells) => ({ cells })),
    [0.24, 0.76],
  );
  l.text('The signature covers every entry above; check the file itself, not this print.', {
    size: 8.5,
    color: MUTED,
  });
  l.footers(p.footer);
  return doc.save();
}
