import { describe, expect, it } from 'vitest';
import { pgpWordsOfHex } from '../../../shared/formats/pgp-words.std';
import { transcriptPdf } from '../../../shared/print/transcript-pdf.std';
import {
  printableRecord,
  transcriptHtml,
  type PrintableRecord,
} from '../../../shared/print/transcript-print.std';
import { pdfPagesText } from '../report/pdf-text';

/**
 * The printable transcript (HTML and PDF) holds every entry of the record, the hashes people
 * compare aloud also as PGP words, the exceptions, the sign-offs and the signature; and a name
 * or an exception that looks like markup stays text.
 */

const h = (c: string) => c.repeat(64);
const ADMIN = { participantId: 'p-1', name: 'Alice Admin', role: 'administrator' };
const WITNESS = { participantId: 'p-2', name: 'Walter <b>Witness</b>', role: 'witness' };
const EVIL = { participantId: 'p-3', name: '<script>alert("x")</script>', role: 'custodian' };

function record(): PrintableRecord {
  const at = (n: number) => `2026-12-07T10:${String(n).padStart(2, '0')}:00.000Z`;
  const entries: PrintableRecord['entries'] = [
    { seq: 0, at: at(0), action: 'start', step: null, by: [], details: { scriptHash: h('1') }, hash: h('a') },
    ...[ADMIN, WITNESS, EVIL].map((p, i) => ({
      seq: i + 1,
      at: at(i + 1),
      action: 'participant',
      step: null,
      by: [p],
      details: { role: p.role, verifier: h('2') },
      hash: h(String.fromCharCode(98 + i)),
    })),
    {
      seq: 4,
      at: at(4),
      action: 'step',
      step: { id: 'enter-component-1', kind: 'enter-component' },
      by: [EVIL, WITNESS],
      details: { component1Kcv: '08d7b4', component1KcvCmac: 'a1b2c3', transportKey: h('3') },
      hash: h('e'),
    },
    {
      seq: 5,
      at: at(5),
      action: 'exception',
      step: { id: 'form-key', kind: 'form-key' },
      by: [WITNESS],
      details: { text: 'Custodian left the room <img src=x onerror=alert(1)>' },
      hash: h('f'),
    },
    ...[ADMIN, WITNESS, EVIL].map((p, i) => ({
      seq: 6 + i,
      at: at(6 + i),
      action: 'sign-off',
      step: { id: 'sign-off', kind: 'sign-off' },
      by: [p],
      details: {},
      hash: h(String(4 + i)),
    })),
    { seq: 9, at: at(9), action: 'close', step: null, by: [], details: {}, hash: h('9') },
  ];
  return {
    format: 'mkm-ceremony-transcript',
    ceremony: {
      id: '6f1c2a34-1111-4222-8333-944445555666',
      template: 'form-key',
      title: 'Form TDES (2-key) key “zmk” from 1 components',
      script: {
        steps: [
          { id: 'enter-component-1', title: 'Custodian 1 enters component 1 and confirms its check value' },
        ],
      },
      scriptHash: h('1'),
      state: 'completed',
      startedAt: at(0),
      closedAt: at(9),
      token: { serial: 'SER123', model: 'SoftHSM v2', manufacturer: 'SoftHSM project', label: 'demo' },
      app: { version: '1.2.3', buildHash: h('c') },
      participants: [ADMIN, WITNESS, EVIL],
    },
    entries,
    signer: { keyId: 'ab01', label: 'ceremony-signer', spkiSha256: h('d') },
    signature: { alg: 'RSASSA-PSS-SHA256', value: 'c2lnbmF0dXJl' },
  };
}

describe('transcript as HTML', () => {
  it('holds every entry, the words of the hashes compared aloud, exceptions, sign-offs and the signature', () => {
    const r = record();
    const html = transcriptHtml(printableRecord(JSON.stringify(r)));
    for (const e of r.entries) {
      expect(html).toContain(`data-seq="${e.seq}"`);
      expect(html).toContain(e.hash);
      expect(html).toContain(e.at);
    }
    expect(html.match(/<tr data-seq=/g)).toHaveLength(r.entries.length);
    for (const hash of [r.ceremony.scriptHash, r.ceremony.app.buildHash, r.signer.spkiSha256, h('9')]) {
      expect(html).toContain(pgpWordsOfHex(hash).join(' '));
    }
    expect(html).toContain('Step: Custodian 1 enters component 1 and confirms its check value');
    expect(html).toContain('component1Kcv: <span class="mono">08D7B4</span>');
    expect(html).toContain('c2lnbmF0dXJl');
    expect(html).toContain('RSASSA-PSS-SHA256');
    expect(html).toContain('SER123');
    // Each participant's sign-off time.
    expect(html).toMatch(/Alice Admin<\/td><td>administrator<\/td><td>2026-12-07T10:06:00.000Z/);
  });

  it('keeps a participant named <script> and markup in an exception as text', () => {
    const html = transcriptHtml(record());
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('Walter &lt;b&gt;Witness&lt;/b&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    // No script can run and nothing is fetched, even were something missed.
    expect(html).toContain(`default-src 'none'`);
  });

  it('refuses what is not a transcript', () => {
    expect(() => printableRecord('{}')).toThrow(
      expect.objectContaining({ code: 'TRANSCRIPT_FORMAT_INVALID' }),
    );
    expect(() => printableRecord('nope')).toThrow(
      expect.objectContaining({ code: 'TRANSCRIPT_FORMAT_INVALID' }),
    );
  });
});

describe('transcript as PDF', () => {
  it('holds every entry, the words, the exception and the signature', async () => {
    const r = record();
    const { doc, pages } = await pdfPagesText(await transcriptPdf(r));
    expect(doc.getTitle()).toContain('Ceremony transcript');
    // Long values wrap within their cell: read the text with the line breaks taken out.
    const text = pages.join('\n').replace(/\n/g, '');
    for (const e of r.entries) expect(text).toContain(e.hash);
    const words = pgpWordsOfHex(r.signer.spkiSha256).join(' ');
    expect(text.replace(/\s/g, '')).toContain(words.replace(/\s/g, ''));
    expect(text).toContain('Witness exceptions');
    expect(text).toContain('Custodian left the room <img src=x onerror=alert(1)>');
    expect(text).toContain('08D7B4');
    expect(text).toContain('c2lnbmF0dXJl');
    expect(pages.at(-1)).toContain(`Page ${pages.length} of ${pages.length}`);
  });
});
