import { describe, expect, it } from 'vitest';
import { PCI_REQUIREMENT_IDS } from '../../../electron/report/pci-requirements.std';
import { escapeHtml, renderPciHtml } from '../../../electron/report/render-html.std';
import { renderPciPdf } from '../../../electron/report/render-pdf.nodejs';
import { reportFileName } from '../../../electron/report/report.std';
import { oneKey } from '../lifecycle/fixtures';
import { evidenceFor, reportFor } from './evidence-fixtures';
import { pdfPagesText } from './pdf-text';

const AFTER_END = new Date('2027-01-10T00:00:00.000Z');

function hostileReport() {
  const { data } = oneKey();
  data.logicalKeys[0]!.name = '<img src=x onerror=alert(1)>';
  const e = evidenceFor(data, AFTER_END);
  e.custodians.list[0]!.name = '</td><script>alert("x")</script>';
  e.custodians.list[0]!.role = 'Zoë “Ops” 鍵';
  return reportFor(e, '2027-01-10T08:30:00.000Z');
}

describe('the printable HTML report', () => {
  it('has every requirement id, its status and the evidence figures', () => {
    const report = hostileReport();
    const html = renderPciHtml(report);
    for (const id of PCI_REQUIREMENT_IDS) expect(html).toContain(`id="req-${id}"`);
    expect(html).toContain('Needs attention');
    expect(html).toMatch(/Keys past their crypto-period<\/td><td>1</);
    expect(html).toContain('0b7e4a4c-1f7e-4d0e-9b1e-2f6c3f3a9d10');
    expect(html).toContain('/home/ann/.config/Merchant Key Manager');
    expect(html).toContain('Merchant Key Manager 0.1.0');
    expect(html).toContain('2027-01-10T08:30:00.000Z');
    expect(html).toMatch(/Summary<\/td><td>Met: \d+ · Needs attention: \d+/);
  });

  it('escapes everything that came from the installation, and runs no script', () => {
    const html = renderPciHtml(hostileReport());
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;/td&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('Zoë “Ops” 鍵');
    expect(escapeHtml(`'&"<>`)).toBe('&#39;&amp;&quot;&lt;&gt;');
  });

  it('is self-contained and print-friendly: inline CSS, print rules, no external resource', () => {
    const html = renderPciHtml(hostileReport());
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('@media print');
    expect(html).not.toMatch(/<link|src="http|href="http/);
  });
});

describe('the PDF report', () => {
  it('parses back: pages, title, keywords and the text of every requirement', async () => {
    const report = hostileReport();
    const bytes = await renderPciPdf(report);
    expect(Buffer.from(bytes.subarray(0, 5)).toString()).toBe('%PDF-');
    const { doc, pages } = await pdfPagesText(bytes);
    expect(doc.getPageCount()).toBeGreaterThan(1);
    expect(doc.getTitle()).toBe(report.title);
    expect(doc.getKeywords()).toContain('3.7.9');
    expect(doc.getCreationDate()?.toISOString()).toBe('2027-01-10T08:30:00.000Z');
    const all = pages.join('\n');
    for (const id of PCI_REQUIREMENT_IDS)
      expect(all, id).toMatch(new RegExp(`^${id.replace(/\./g, '\\.')} [A-Z]`, 'm'));
    expect(all).toContain('Keys past their crypto-period');
    expect(all).toContain('Needs attention');
    // Text the standard fonts cannot draw becomes "?" instead of failing the export.
    expect(all).toContain('Zoë \x93Ops\x94 ?');
    pages.forEach((text, i) => {
      expect(text).toContain(`Page ${i + 1} of ${pages.length}`);
      expect(text).toContain('generated 2027-01-10T08:30:00.000Z');
    });
  });

  it('wraps long unbroken values (fingerprints, paths) inside the page', async () => {
    const report = hostileReport();
    report.installation.dataDir = `/data/${'x'.repeat(400)}`;
    const { pages } = await pdfPagesText(await renderPciPdf(report));
    expect(pages.join('')).toContain('xxxxxxxx');
  });
});

describe('report file names', () => {
  it('sort by time and say the format', () => {
    expect(reportFileName('2027-01-10T08:30:00.000Z', 'pdf')).toBe('mkm-pci-report-20270110-0830.pdf');
    expect(reportFileName('2027-01-10T08:30:00.000Z', 'html')).toBe('mkm-pci-report-20270110-0830.html');
  });
});
