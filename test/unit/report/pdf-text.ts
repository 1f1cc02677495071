import { inflateSync } from 'node:zlib';
import { PDFArray, PDFDocument, PDFName, PDFRawStream, type PDFPage } from 'pdf-lib';

/**
 * The text pdf-lib drew on each page, read back from the content streams: standard fonts write
 * WinAnsi strings as hex (`<48656C6C6F> Tj`). Enough to check what a report says without
 * pdftotext, which is not on every machine.
 */
export async function pdfPagesText(bytes: Uint8Array): Promise<{ doc: PDFDocument; pages: string[] }> {
  const doc = await PDFDocument.load(bytes, { updateMetadata: false });
  return { doc, pages: doc.getPages().map(pageText) };
}

function pageText(page: PDFPage): string {
  const contents = page.node.get(PDFName.of('Contents'));
  const refs = contents instanceof PDFArray ? contents.asArray() : [contents];
  let text = '';
  for (const ref of refs) {
    const stream = page.doc.context.lookup(ref);
    if (!(stream instanceof PDFRawStream)) continue;
    const filter = stream.dict.get(PDFName.of('Filter'));
    const raw = Buffer.from(stream.contents);
    const decoded = filter === PDFName.of('FlateDecode') ? inflateSync(raw) : raw;
    for (const m of decoded.toString('latin1').matchAll(/<([0-9A-Fa-f]*)>\s*Tj/g)) {
      text += Buffer.from(m[1]!, 'hex').toString('latin1') + '\n';
    }
  }
  return text;
}
