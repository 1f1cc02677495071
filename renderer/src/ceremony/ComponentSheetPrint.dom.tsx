import type { CeremonyView, StepOutcome } from '../../../shared/contract/ceremony.std';
import { componentSheet, type ComponentSheet } from '../../../shared/formats/component-sheet.std';
import type { ComponentKeyType } from '../../../shared/formats/components.std';
import type { LabelledKcv } from '../../../shared/formats/kcv-methods.std';
import { asMkmError } from '../api.dom';
import { ErrorNotice } from '../ui/bits.dom';

/**
 * The component sheet of one custodian (issue 11 point 3), printed from the screen that just
 * revealed their component. It holds a clear component, so mkm never writes it anywhere: it is
 * built in this page's memory from the revealed bytes (content: shared/formats/component-sheet),
 * printed with the browser's own print (window.print; only the sheet is visible on paper), and
 * dropped with the revealed component when the custodian clears the screen.
 *
 * The same content also lays out as a PDF (shared/print/component-sheet-pdf.std.ts), but the
 * app's CSP (default-src 'none', so no frame-src) and the Electron guards (no new windows) leave
 * a PDF blob no frame to print from; the print view below is what reaches the printer.
 */

function kcvs(details: Record<string, unknown>, prefix: string): LabelledKcv[] {
  const out: LabelledKcv[] = [];
  if (typeof details[`${prefix}Kcv`] === 'string')
    out.push({ method: 'legacy', kcv: details[`${prefix}Kcv`] as string });
  if (typeof details[`${prefix}KcvCmac`] === 'string')
    out.push({ method: 'cmac', kcv: details[`${prefix}KcvCmac`] as string });
  return out;
}

/**
 * The sheet for component `index`, from the revealed bytes (read, not kept: the caller wipes
 * them), the reveal step's check values and what the ceremony recorded of the key.
 */
export function sheetForReveal(
  view: CeremonyView,
  index: number,
  component: Uint8Array,
  outcome: Pick<StepOutcome, 'details'>,
  now: Date = new Date(),
): ComponentSheet {
  const person = (p: CeremonyView['participants'][number] | undefined) =>
    p ? { name: p.name, role: p.role } : null;
  const custodian = view.participants.find((p) => p.role === 'custodian' && p.custodian === index);
  return componentSheet({
    ceremonyId: view.id,
    keyLabel: String(view.facts.label ?? ''),
    keyType: view.facts.keyType as ComponentKeyType,
    component,
    index,
    count: Number(view.facts.components),
    componentKcvs: kcvs(outcome.details, `component${index}`),
    keyKcvs: kcvs(view.facts, 'key'),
    custodian: person(custodian) ?? { name: `Custodian ${index}`, role: 'custodian' },
    witness: person(view.participants.find((p) => p.role === 'witness')),
    administrator: person(view.participants.find((p) => p.role === 'administrator')),
    date: now,
  });
}

function KcvRows({ what, kcvs }: { what: string; kcvs: ComponentSheet['key']['kcvs'] }) {
  return kcvs.map((k) => (
    <tr key={`${what}-${k.method}`}>
      <th>
        {what} KCV, {k.method}
      </th>
      <td>
        {k.value} - {k.methodText}
      </td>
    </tr>
  ));
}

/** The sheet, on screen as a button and a note; on paper as the only thing printed. */
export function SheetPrint({ sheet, error }: { sheet: ComponentSheet | null; error: unknown }) {
  if (!sheet) return error ? <ErrorNotice error={asMkmError(error)} /> : null;
  return (
    <>
      <div className="button-row">
        <button type="button" onClick={() => window.print()}>
          Print the component sheet
        </button>
        <span className="muted small">Printed from this screen only: mkm saves no copy.</span>
      </div>
      <section className="cer-sheet-print" aria-hidden="true" data-testid="component-sheet">
        <h1>{sheet.title}</h1>
        <p className="cer-sheet-secret">SECRET: for {sheet.custodian.name} only</p>
        <table>
          <tbody>
            <tr>
              <th>Ceremony</th>
              <td>{sheet.ceremonyId}</td>
            </tr>
            <tr>
              <th>Date (UTC)</th>
              <td>{sheet.date}</td>
            </tr>
            <tr>
              <th>Key</th>
              <td>
                {sheet.key.label} ({sheet.key.typeText})
              </td>
            </tr>
            <KcvRows what="Key" kcvs={sheet.key.kcvs} />
            <tr>
              <th>Custodian</th>
              <td>
                {sheet.custodian.name} ({sheet.custodian.role})
              </td>
            </tr>
          </tbody>
        </table>
        <h2>
          Component {sheet.component.index} of {sheet.component.count}
        </h2>
        <p className="cer-sheet-component">{sheet.component.groups.join(' ')}</p>
        <table>
          <tbody>
            <tr>
              <th>Checksum of the digits</th>
              <td>{sheet.component.checksum}</td>
            </tr>
            <KcvRows what="Component" kcvs={sheet.component.kcvs} />
          </tbody>
        </table>
        <ul>
          {sheet.instructions.map((text) => (
            <li key={text}>{text}</li>
          ))}
        </ul>
        <h2>Signatures</h2>
        {sheet.signatures.map((s) => (
          <div key={s.role} className="cer-sheet-sign">
            <span>
              {s.caption}
              {s.name ? `: ${s.name}` : ''}
            </span>
            <span>Date and time</span>
          </div>
        ))}
      </section>
    </>
  );
}
