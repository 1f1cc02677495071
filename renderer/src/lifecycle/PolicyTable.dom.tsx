import { TOKEN_PURPOSES } from '../../../shared/lifecycle/vocabulary.std';
import { ErrorNotice, Loading } from '../ui/bits.dom';
import { PURPOSE_NAMES } from './format.dom';
import { usePolicies } from './queries.dom';

/** The rotation policy of each purpose; a key created with overrides shows its own in its detail. */
export function PolicyTable() {
  const policies = usePolicies();
  if (policies.isPending) return <Loading />;
  if (policies.error) return <ErrorNotice error={policies.error} onRetry={() => void policies.refetch()} />;
  return (
    <>
      <table className="table" aria-label="Rotation policies">
        <thead>
          <tr>
            <th scope="col">Purpose</th>
            <th scope="col">Crypto-period</th>
            <th scope="col">Maximum uses</th>
            <th scope="col">Warning lead</th>
            <th scope="col">Grace after rotation</th>
          </tr>
        </thead>
        <tbody>
          {[...TOKEN_PURPOSES, 'gateway-public' as const].map((purpose) => {
            const p = policies.data[purpose];
            return (
              <tr key={purpose}>
                <th scope="row">{PURPOSE_NAMES[purpose]}</th>
                <td>{p.cryptoPeriodDays} days</td>
                <td>{p.maxUses === null ? 'no limit' : p.maxUses.toLocaleString()}</td>
                <td>
                  {p.warnDays} days / {Math.round(p.warnUsesFraction * 100)} % of uses
                </td>
                <td>{p.graceDays} days</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p className="muted small">
        After NIST SP 800-57 Part 1 and PCI DSS v4 3.6.4. A key can have a shorter policy of its own, set when
        it is created.
      </p>
    </>
  );
}
