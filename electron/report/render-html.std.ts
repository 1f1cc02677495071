import type { PciReport, PciRequirementResult, PciStatus } from '../../shared/contract/report.std';
import { reportHeadFacts, STATUS_LABELS } from './report.std';
import { managedTypeText } from '../../shared/wording.std';

/**
 * The report as one self-contained, printable HTML file. It is a file the admin saves and opens
 * or prints, not a page of the app, so its CSS is inline in a <style> element (the app's CSP
 * does not govern it); there is no script. Every value from the installation is escaped.
 */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const e = escapeHtml;

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1b1f24; margin: 2rem auto; max-width: 60rem; padding: 0 1.5rem; }
h1 { font-size: 1.6em; margin: 0 0 .3em; }
h2 { font-size: 1.25em; margin: 1.8em 0 .6em; border-bottom: 2px solid #1b1f24; padding-bottom: .2em; }
h3 { font-size: 1.05em; margin: 0; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 .8em; }
th, td { text-align: left; vertical-align: top; padding: .3em .5em; border: 1px solid #c9ced6; }
th { background: #f1f3f6; font-weight: 600; }
.meta td:first-child, .facts td:first-child { width: 34%; color: #47505c; }
.req { border: 1px solid #c9ced6; border-radius: 6px; padding: .8em 1em; margin: 0 0 1em; break-inside: avoid; page-break-inside: avoid; }
.req-head { display: flex; gap: .8em; align-items: baseline; justify-content: space-between; }
.status { display: inline-block; padding: .1em .6em; border-radius: 999px; font-weight: 600; font-size: .85em; border: 1px solid; white-space: nowrap; }
.status-met { color: #135b2f; background: #e3f5e9; border-color: #7cc597; }
.status-attention { color: #7a2e00; background: #fff0e0; border-color: #f0a35e; }
.status-manual { color: #1d3f7a; background: #e6eefc; border-color: #8aa8e0; }
.status-na { color: #47505c; background: #f1f3f6; border-color: #b7bec8; }
.why { margin: .4em 0; padding-left: 1.2em; }
.label { font-weight: 600; }
.muted { color: #47505c; }
.disclaimer { font-size: .9em; color: #47505c; border-left: 3px solid #c9ced6; padding-left: .8em; }
code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: .95em; word-break: break-all; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 9.5pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
@page { size: A4; margin: 16mm 14mm; }
`;

const statusClass = (s: PciStatus) => `status status-${s === 'n/a' ? 'na' : s}`;

function statusChip(s: PciStatus): string {
  return `<span class="${statusClass(s)}">${e(STATUS_LABELS[s])}</span>`;
}

function rows(pairs: [string, string][]): string {
  return pairs.map(([k, v]) => `<tr><td>${e(k)}</td><td>${e(v)}</td></tr>`).join('');
}

function requirement(r: PciRequirementResult): string {
  return `<section class="req" id="req-${e(r.id)}">
<div class="req-head"><h3>${e(r.id)} — ${e(r.title)}</h3>${statusChip(r.status)}</div>
${r.appliesTo === 'service-providers' ? '<p class="muted">Service providers only.</p>' : ''}
<ul class="why">${r.why.map((w) => `<li>${e(w)}</li>`).join('')}</ul>
<table class="facts"><tbody>
${rows([
  ['What mkm does', r.mkmDoes],
  ['What the organization must do', r.adminMust],
])}
${r.facts.map((f) => `<tr><td>${e(f.label)}</td><td>${e(f.value)}</td></tr>`).join('')}
</tbody></table>
</section>`;
}

export function renderPciHtml(report: PciReport): string {
  const inv = report.evidence.inventory;
  const keysTable = inv.ok
    ? inv.keys.length
      ? `<table><thead><tr><th>Key</th><th>Purpose / type</th><th>Versions</th><th>Primary</th><th>Expires</th><th>Last rotation</th><th>Due</th></tr></thead><tbody>${inv.keys
          .map(
            (k) =>
              `<tr><td>${e(k.name)}</td><td>${e(k.purpose)} / ${e(managedTypeText(k.type))}</td><td>${e(k.versions)}</td><td>${
                k.primaryVersion === null ? 'none' : `v${e(k.primaryVersion)}`
              }</td><td>${e(k.primaryExpiresAt ?? '—')}</td><td>${e(k.lastRotation ?? 'never rotated')}</td><td>${e(
                k.pastCryptoPeriod ? `past crypto-period (${k.dueLevel})` : (k.dueLevel ?? '—'),
              )}</td></tr>`,
          )
          .join('')}</tbody></table>`
      : '<p>No managed keys yet.</p>'
    : `<p>The key inventory could not be read: ${e(inv.reason)}</p>`;
  const custodians = report.evidence.custodians;
  const custodianTable = custodians.list.length
    ? `<table><thead><tr><th>Name</th><th>Role</th><th>Text version</th><th>Acknowledged</th><th>Recorded by</th><th>Status</th></tr></thead><tbody>${custodians.list
        .map(
          (c) =>
            `<tr><td>${e(c.name)}</td><td>${e(c.role)}</td><td>${e(c.textVersion)}</td><td>${e(c.acknowledgedAt)}</td><td>${e(
              c.recordedBy,
            )}</td><td>${e(c.revokedAt ? `revoked ${c.revokedAt}: ${c.revokedReason ?? ''}` : c.current ? 'current' : 'older text')}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p>No key custodian has acknowledged their responsibilities yet.</p>';
  const section = (s: '3.6' | '3.7', title: string) =>
    `<h2>${e(title)}</h2>${report.requirements
      .filter((r) => r.section === s)
      .map(requirement)
      .join('\n')}`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Merchant Key Manager ${e(report.installation.appVersion)}">
<title>${e(report.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${e(report.title)}</h1>
<table class="meta"><tbody>
${rows(reportHeadFacts(report, ' · '))}
</tbody></table>
<p class="disclaimer">${e(report.disclaimer)}</p>
</header>
<main>
<h2>Summary</h2>
<table><thead><tr><th>Requirement</th><th>Title</th><th>Status</th></tr></thead><tbody>
${report.requirements
  .map(
    (r) =>
      `<tr><td><a href="#req-${e(r.id)}">${e(r.id)}</a></td><td>${e(r.title)}</td><td>${statusChip(r.status)}</td></tr>`,
  )
  .join('\n')}
</tbody></table>
${section('3.6', '3.6 — Cryptographic keys used to protect stored account data are secured')}
${section('3.7', '3.7 — Key-management processes and procedures cover the whole key lifecycle')}
<h2>Key inventory</h2>
${keysTable}
<h2>Key custodians</h2>
<p>Responsibilities text in force: version ${e(custodians.textVersion)}.</p>
${custodianTable}
</main>
</body>
</html>
`;
}
