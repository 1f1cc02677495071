import { describe, expect, it } from 'vitest';
import { componentSheet } from '../../../shared/formats/component-sheet.std';
import { componentChecksum, groupComponent } from '../../../shared/formats/component-entry.std';
import { componentSheetPdf } from '../../../shared/print/component-sheet-pdf.std';
import { pdfPagesText } from '../report/pdf-text';

/**
 * A component sheet's PDF says what the sheet's content says: the component in groups of four,
 * its checksum and KCVs by method, the key's KCVs, the ceremony id, the custodian, and a line to
 * sign for each of custodian, witness and administrator; and nothing of the component in the
 * document's metadata.
 */

const COMPONENT = Uint8Array.from(Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex'));
const CEREMONY = '6f1c2a34-1111-4222-8333-944445555666';

function sheet() {
  return componentSheet({
    ceremonyId: CEREMONY,
    keyLabel: 'zmk-2026',
    keyType: 'tdes-2key',
    component: COMPONENT,
    index: 2,
    count: 3,
    componentKcvs: [
      { method: 'legacy', kcv: '08d7b4' },
      { method: 'cmac', kcv: 'c1d2e3' },
    ],
    keyKcvs: [
      { method: 'legacy', kcv: 'cb9dea' },
      { method: 'cmac', kcv: 'a0b1c2' },
    ],
    custodian: { name: 'Cora One', role: 'custodian' },
    witness: { name: 'Walter Witness', role: 'witness' },
    administrator: { name: 'Alice Admin', role: 'administrator' },
    date: new Date('2026-12-07T10:00:00Z'),
  });
}

describe('component sheet PDF', () => {
  it('prints the component grouped, its checksum and KCVs, the key’s KCVs, the ceremony and the signature lines', async () => {
    const { doc, pages } = await pdfPagesText(await componentSheetPdf(sheet()));
    expect(pages).toHaveLength(1);
    const text = pages[0]!;
    expect(text).toContain('Key component 2 of 3');
    expect(text).toContain('SECRET - for Cora One only');
    // The component in groups of four, four groups to a line, as typed back later.
    expect(text).toContain('0123  4567  89AB  CDEF');
    expect(text).toContain('FEDC  BA98  7654  3210');
    expect(text).toContain(componentChecksum(COMPONENT));
    expect(text).toMatch(/Component KCV, legacy\n08D7B4 - legacy \(ANSI X9\.24-1/);
    expect(text).toMatch(/Component KCV, cmac\nC1D2E3/);
    expect(text).toMatch(/Key KCV, legacy\nCB9DEA/);
    expect(text).toMatch(/Key KCV, cmac\nA0B1C2/);
    expect(text).toContain(CEREMONY);
    expect(text).toContain('zmk-2026 (TDES (2-key))');
    expect(text).toContain('2026-12-07');
    expect(text).toContain('Custodian of component 2: received and sealed: Cora One');
    expect(text).toContain('Witness: Walter Witness');
    expect(text).toContain('Ceremony administrator: Alice Admin');
    expect(text.match(/Date and time/g)).toHaveLength(3);
    // The metadata names the sheet, never its component.
    const meta = [doc.getTitle(), doc.getSubject(), doc.getKeywords(), doc.getAuthor()].join(' ');
    expect(meta).toContain(CEREMONY);
    expect(meta).not.toContain('0123');
    expect(meta.replace(/\s/g, '')).not.toContain(groupComponent(COMPONENT).replace(/\s/g, ''));
  });
});
