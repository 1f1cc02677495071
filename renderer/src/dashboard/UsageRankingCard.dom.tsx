import { useQuery } from '@tanstack/react-query';
import type { LifecycleKeyView } from '../../../shared/contract.std';
import { mkm } from '../api.dom';
import { USAGE_REFRESH_MS, useDueFollowsUsage } from '../lifecycle/KeyUsage.dom';
import { primaryOf } from '../lifecycle/format.dom';
import { lifecycleKeys } from '../lifecycle/queries.dom';
import { Badge, ErrorNotice, Loading } from '../ui/bits.dom';
import '../lifecycle/usage.css';

/** How many keys each ranking shows. */
export const TOP = 5;

export interface RankedKey {
  logicalKeyId: string;
  name: string;
  version: number;
  uses: number;
  maxUses: number | null;
  /** uses / maxUses, or null without a limit. */
  share: number | null;
  level: 'ok' | 'warning' | 'reached';
}

/** Each key's primary with its real count, ranked by uses and by nearness to its limit. */
export function rankKeys(keys: LifecycleKeyView[]): { byUse: RankedKey[]; byLimit: RankedKey[] } {
  const ranked: RankedKey[] = [];
  for (const k of keys) {
    const v = primaryOf(k);
    if (!v) continue;
    const maxUses = k.policy.maxUses;
    const share = maxUses === null ? null : v.useCount / maxUses;
    ranked.push({
      logicalKeyId: k.id,
      name: k.name,
      version: v.version,
      uses: v.useCount,
      maxUses,
      share,
      // Main's own verdict (the same one that refuses uses at the limit).
      level: v.useLevel ?? 'ok',
    });
  }
  const byUse = ranked
    .filter((r) => r.uses > 0)
    .sort((a, b) => b.uses - a.uses || a.name.localeCompare(b.name))
    .slice(0, TOP);
  const byLimit = ranked
    .filter((r) => r.share !== null && r.uses > 0)
    .sort((a, b) => b.share! - a.share! || a.name.localeCompare(b.name))
    .slice(0, TOP);
  return { byUse, byLimit };
}

const percent = (share: number) => `${Math.min(100, Math.floor(share * 1000) / 10)} %`;

/** The dashboard's key usage card: most used keys, and keys nearest their use limit. */
export function UsageRankingCard() {
  // Uses happen on other screens, in the CLI and in batches: the counts are read again on a timer.
  const keys = useQuery({
    queryKey: lifecycleKeys.list,
    queryFn: () => mkm().lifecycle.list({}),
    refetchInterval: USAGE_REFRESH_MS,
  });
  useDueFollowsUsage(keys.dataUpdatedAt);
  let body;
  if (keys.isPending) body = <Loading />;
  else if (keys.error) body = <ErrorNotice error={keys.error} />;
  else {
    const { byUse, byLimit } = rankKeys(keys.data);
    body =
      byUse.length === 0 ? (
        <p className="muted small">No managed key has been used yet.</p>
      ) : (
        <>
          <h3 className="small">Most used</h3>
          <ol className="dash-list" aria-label="Most used keys" data-testid="dash-usage-most">
            {byUse.map((r) => (
              <li key={r.logicalKeyId}>
                {r.name} v{r.version}: {r.uses.toLocaleString()} {r.uses === 1 ? 'use' : 'uses'}
              </li>
            ))}
          </ol>
          <h3 className="small">Nearest their use limit</h3>
          {byLimit.length === 0 ? (
            <p className="muted small">No used key has a use limit.</p>
          ) : (
            <ol
              className="dash-list"
              aria-label="Keys nearest their use limit"
              data-testid="dash-usage-limit"
            >
              {byLimit.map((r) => (
                <li key={r.logicalKeyId}>
                  <span
                    className={`usage-meter usage-${r.level}`}
                    role="meter"
                    aria-valuemin={0}
                    aria-valuemax={r.maxUses!}
                    aria-valuenow={r.uses}
                    aria-label={`${r.name} uses`}
                  >
                    <span style={{ width: percent(r.share!) }} />
                  </span>{' '}
                  {r.name} v{r.version}: {r.uses.toLocaleString()} of {r.maxUses!.toLocaleString()} (
                  {percent(r.share!)}){r.level === 'warning' && <Badge tone="warn">near limit</Badge>}
                  {r.level === 'reached' && <Badge tone="danger">limit reached</Badge>}
                </li>
              ))}
            </ol>
          )}
        </>
      );
  }
  return (
    <section className="card" aria-label="Key usage">
      <h2 className="card-title">Key usage</h2>
      {body}
    </section>
  );
}
