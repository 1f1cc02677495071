import { batchSpeedText } from '../../../shared/console/batch-rows.std';
import { COMPOSE_LABELS } from '../../../shared/console/compose.std';
import type { BatchSummary } from '../../../shared/contract/console.std';
import { Badge, Facts } from '../ui/bits.dom';
import { ConsoleError } from './console-state.dom';

/**
 * How a batch ended, in words that hold: "done" in green only when every row was encrypted;
 * every failed row listed with every problem it has (the output file has the same, in its
 * `error` column), so the admin fixes the input without opening the output first.
 */
export function BatchResults({ summary, saved }: { summary: BatchSummary; saved: string | null }) {
  const { failed } = summary;
  const rowsWord = (n: number) => `${n.toLocaleString()} failed row${n === 1 ? '' : 's'}`;
  return (
    <section className="card stack" aria-label="Batch summary">
      <p>
        {summary.status === 'done' && failed === 0 ? (
          <Badge tone="ok">done</Badge>
        ) : summary.status === 'done' ? (
          <Badge tone="warn">done with {rowsWord(failed)}</Badge>
        ) : summary.status === 'cancelled' ? (
          <Badge tone="warn">cancelled</Badge>
        ) : (
          <Badge tone="danger">failed</Badge>
        )}{' '}
        {summary.rows.toLocaleString()} rows: {summary.encrypted.toLocaleString()} encrypted,{' '}
        {failed.toLocaleString()} not encrypted.
      </p>
      {summary.error && <ConsoleError error={summary.error} />}
      {saved && <p role="status">{saved}</p>}
      <Facts
        rows={[
          [
            'Output',
            <code key="o" className="break">
              {summary.outputPath || '(none written)'}
            </code>,
          ],
          ['Partial', summary.partial ? 'yes: not every row is in it' : 'no'],
          ['Columns', summary.columns.join(', ')],
          ['Speed', batchSpeedText(summary)],
          ...(summary.keyFingerprint
            ? ([['Gateway key', summary.keyFingerprint]] as [string, string][])
            : []),
        ]}
      />
      {failed > 0 && <FailedRows summary={summary} />}
    </section>
  );
}

function FailedRows({ summary }: { summary: BatchSummary }) {
  const { failures, failed } = summary;
  const hasRef = failures.some((f) => f.ref !== '');
  return (
    <div className="stack">
      <h3 className="batch-failures-title" id="batch-failures-title">
        Rows not encrypted
      </h3>
      <p className="muted small">
        {failures.length < failed
          ? `The first ${failures.length.toLocaleString()} of ${failed.toLocaleString()} are listed; every one is in the output file, with the same problems in its error column.`
          : 'The output file has each of them too, with the same problems in its error column.'}
      </p>
      <div className="batch-failures">
        <table className="table" aria-labelledby="batch-failures-title">
          <thead>
            <tr>
              <th scope="col">Row</th>
              {hasRef && <th scope="col">Reference</th>}
              <th scope="col">Problems</th>
            </tr>
          </thead>
          <tbody>
            {failures.map((f) => (
              <tr key={f.row} data-row={f.row}>
                <th scope="row">{f.row.toLocaleString()}</th>
                {hasRef && <td className="break">{f.ref}</td>}
                <td>
                  <ul className="batch-problems">
                    {f.problems.map((p, i) => (
                      <li key={i}>
                        {p.field ? <strong>{COMPOSE_LABELS[p.field]}: </strong> : null}
                        {p.message} <code className="code-chip">{p.code}</code>
                      </li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
