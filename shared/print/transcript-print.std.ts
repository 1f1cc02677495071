import { MkmError } from '../errors.std';
import { pgpWordsOfHex } from '../formats/pgp-words.std';
import { formatKcv } from '../wording.std';

/**
 * A signed ceremony transcript (issue 11 point 6) as people read and file it: every entry's time,
 * who, what, check values and fingerprints, the witness's exceptions, the sign-offs, and the
 * signature with its signer; the hashes people compare aloud also as PGP words. Pure, so the CLI
 * (`mkm ceremony transcript --format html|pdf`) and the Ceremony screen print the same thing.
 * The input is the `.mkmx` record main verified before handing it out; it holds no secret by
 * construction (check values, fingerprints, names), and nothing is added here but labels.
 */

type DetailValue = string | number | boolean | null | string[];

interface Actor {
  participantId: string;
  name: string;
  role: string;
}

/** The parts of a transcript record (electron/ceremony/transcript.nodejs.ts) a print shows. */
export interface PrintableRecord {
  format: 'mkm-ceremony-transcript';
  ceremony: {
    id: string;
    template: string;
    title: string;
    script: { steps: { id: string; title: string }[] };
    scriptHash: string;
    state: string;
    startedAt: string;
    closedAt: string;
    token: { serial: string; model: string; manufacturer: string; label: string };
    app: { version: string; buildHash: string };
    participants: Actor[];
  };
  entries: {
    seq: number;
    at: string;
    action: string;
    step: { id: string; kind: string } | null;
    by: Actor[];
    details: Record<string, DetailValue>;
    hash: string;
  }[];
  signer: { keyId: string; label: string; spkiSha256: string };
  signature: { alg: string; value: string };
}

export interface PrintedEntry {
  seq: number;
  at: string;
  what: string;
  who: string;
  details: [string, string][];
  hash: string;
}

export interface TranscriptPrint {
  title: string;
  heading: [string, string][];
  participants: { name: string; role: string; signedOff: string }[];
  entries: PrintedEntry[];
  exceptions: { at: string; by: string; text: string }[];
  signature: [string, string][];
  footer: string;
}

const ACTIONS: Record<string, string> = {
  start: 'Ceremony started',
  participant: 'Participant identified',
  exception: 'Witness exception',
  'sign-off': 'Signed off',
  abort: 'Ceremony aborted',
  close: 'Ceremony closed',
  resume: 'Ceremony resumed',
};

const HEX64 = /^[0-9a-f]{64}$/;
const words = (hex: string) => pgpWordsOfHex(hex).join(' ');
/** A hash as people compare it: hex, and the PGP words they read aloud. */
const hashText = (hex: string) => `${hex} (${words(hex)})`;

/** Reads a transcript's text (as `ceremony.transcript` returns it) for printing. */
export function printableRecord(text: string): PrintableRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MkmError('TRANSCRIPT_FORMAT_INVALID', 'This is not JSON, so it is not a transcript.', {
      reason: 'not-json',
    });
  }
  const r = json as Partial<PrintableRecord> | null;
  if (
    !r ||
    r.format !== 'mkm-ceremony-transcript' ||
    !r.ceremony ||
    !Array.isArray(r.entries) ||
    !Array.isArray(r.ceremony.participants) ||
    !r.signer ||
    !r.signature
  ) {
    throw new MkmError('TRANSCRIPT_FORMAT_INVALID', 'This is not an mkm ceremony transcript.', {
      reason: 'schema',
    });
  }
  return r as PrintableRecord;
}

function detailText(key: string, value: DetailValue): string {
  if (value === null) return '-';
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'string') {
    if (HEX64.test(value)) return hashText(value);
    if (/kcv|checkvalue/i.test(key) && /^[0-9a-f]{6,10}$/i.test(value)) return formatKcv(value);
  }
  return String(value);
}

const who = (by: Actor[]) => by.map((a) => `${a.name} (${a.role})`).join(', ') || '-';

/** What a transcript print says, in order: the same for the HTML page and the PDF. */
export function transcriptPrint(record: PrintableRecord): TranscriptPrint {
  const c = record.ceremony;
  const steps = new Map(c.script.steps.map((s) => [s.id, s.title]));
  const entries = record.entries.map((e): PrintedEntry => ({
    seq: e.seq,
    at: e.at,
    what:
      e.action === 'step' && e.step
        ? `Step: ${steps.get(e.step.id) ?? e.step.id}`
        : `${ACTIONS[e.action] ?? e.action}${e.step && e.action !== 'step' ? ` (at step ${e.step.id})` : ''}`,
    who: who(e.by),
    details: Object.entries(e.details).map(([k, v]) => [k, detailText(k, v)]),
    hash: e.hash,
  }));
  const signedOff = new Map(
    record.entries.filter((e) => e.action === 'sign-off').map((e) => [e.by[0]?.participantId, e.at]),
  );
  const head = record.entries.at(-1)?.hash ?? '';
  return {
    title: `Ceremony transcript: ${c.title}`,
    heading: [
      ['Ceremony', c.id],
      ['Template', c.template],
      ['State', c.state],
      ['Started', c.startedAt],
      ['Closed', c.closedAt],
      [
        'Token',
        `${c.token.label.trim()} (serial ${c.token.serial.trim()}, ${c.token.manufacturer.trim()} ${c.token.model.trim()})`,
      ],
      ['App', `version ${c.app.version}`],
      ['App build hash', hashText(c.app.buildHash)],
      ['Script hash', hashText(c.scriptHash)],
      ['Entries', String(record.entries.length)],
      ['Last entry hash', head ? hashText(head) : '-'],
    ],
    participants: c.participants.map((p) => ({
      name: p.name,
      role: p.role,
      signedOff: signedOff.get(p.participantId) ?? 'not signed off',
    })),
    entries,
    exceptions: record.entries
      .filter((e) => e.action === 'exception')
      .map((e) => ({ at: e.at, by: who(e.by), text: String(e.details.text ?? '') })),
    signature: [
      ['Algorithm', record.signature.alg],
      ['Signing key', `${record.signer.label} (id ${record.signer.keyId})`],
      ['Signer (SPKI SHA-256)', hashText(record.signer.spkiSha256)],
      ['Signature', record.signature.value],
      ['Check it', `mkm ceremony verify-transcript FILE --signer ${record.signer.spkiSha256}`],
    ],
    footer: `Merchant Key Manager - ceremony ${c.id} - ${c.state} ${c.closedAt} - signed by ${record.signer.spkiSha256.slice(0, 16)}…`,
  };
}

/** Text as HTML: every character that could open markup is escaped. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );
}

const CSS = `
body{font:10pt/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c1f24;margin:2em;max-width:60em}
h1{font-size:15pt;margin:0 0 .6em}h2{font-size:12pt;border-bottom:1px solid #1c1f24;margin:1.4em 0 .5em}
table{border-collapse:collapse;width:100%;margin:.4em 0}th,td{border:1px solid #c9ced6;padding:3px 5px;text-align:left;vertical-align:top}
th{background:#f1f3f6}td.k{width:26%}code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:9pt;word-break:break-all}
ul.d{margin:0;padding-left:1.1em}.exc{background:#fff0e0}
@media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}}
`;

/** The transcript as one standalone printable HTML page: no script, no fetch, everything escaped. */
export function transcriptHtml(record: PrintableRecord): string {
  const p = transcriptPrint(record);
  const e = escapeHtml;
  const facts = (rows: [string, string][]) =>
    `<table>${rows.map(([k, v]) => `<tr><td class="k">${e(k)}</td><td class="mono">${e(v)}</td></tr>`).join('')}</table>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${e(p.title)}</title><style>${CSS}</style></head><body>
<h1>${e(p.title)}</h1>
${facts(p.heading)}
<h2>Participants</h2>
<table><tr><th>Name</th><th>Role</th><th>Signed off</th></tr>${p.participants
    .map((x) => `<tr><td>${e(x.name)}</td><td>${e(x.role)}</td><td>${e(x.signedOff)}</td></tr>`)
    .join('')}</table>
<h2>Witness exceptions</h2>
${
  p.exceptions.length
    ? `<table><tr><th>Time</th><th>By</th><th>Exception</th></tr>${p.exceptions
        .map((x) => `<tr class="exc"><td>${e(x.at)}</td><td>${e(x.by)}</td><td>${e(x.text)}</td></tr>`)
        .join('')}</table>`
    : '<p>None recorded.</p>'
}
<h2>Entries</h2>
<table><tr><th>#</th><th>Time</th><th>What</th><th>Who</th><th>Recorded</th></tr>${p.entries
    .map(
      (x) =>
        `<tr data-seq="${x.seq}"><td>${x.seq}</td><td>${e(x.at)}</td><td>${e(x.what)}</td><td>${e(x.who)}</td><td><ul class="d">${x.details
          .map(([k, v]) => `<li>${e(k)}: <span class="mono">${e(v)}</span></li>`)
          .join('')}<li>entry hash: <span class="mono">${e(x.hash)}</span></li></ul></td></tr>`,
    )
    .join('')}</table>
<h2>Signature</h2>
${facts(p.signature)}
<p>${e(p.footer)}</p>
</body></html>
`;
}
