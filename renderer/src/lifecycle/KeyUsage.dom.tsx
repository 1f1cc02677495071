import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import type { LifecycleKeyView } from '../../../shared/contract.std';
import type { LifecycleUsageView } from '../../../shared/contract/lifecycle.std';
import { mkm } from '../api.dom';
import { Badge, ErrorNotice, Loading } from '../ui/bits.dom';
import { dateTime } from './format.dom';
import { lifecycleKeys } from './queries.dom';
import './usage.css';

type VersionUsage = LifecycleUsageView['versions'][number];

/** How often a usage view reads the counts again (uses happen elsewhere: console, CLI, batches). */
export const USAGE_REFRESH_MS = 5_000;

/**
 * New counts can make a key due (its use limit) or near it: the due report is read again each
 * time counts arrive, so the due notices and badges follow the same numbers.
 */
export function useDueFollowsUsage(countsReadAt: number): void {
  const queryClient = useQueryClient();
  useEffect(() => {
    if (countsReadAt > 0) void queryClient.invalidateQueries({ queryKey: lifecycleKeys.due });
  }, [countsReadAt, queryClient]);
}

/** Days the chart shows, ending today (UTC). */
export const CHART_DAYS = 30;

const OPERATION_NAMES: Record<string, string> = {
  encrypt: 'encryption',
  decrypt: 'decryption',
  mac: 'MAC',
  verify: 'MAC check',
  sign: 'signature',
  'key-set-unwrap': 'key-set unwrap',
  'cse-encrypt': 'client-side encryption',
  'key-block-export': 'key-block export',
  'key-block-import': 'key-block import',
};

export const LEVEL_BADGES: Record<VersionUsage['level'], { tone: 'warn' | 'danger'; text: string } | null> = {
  ok: null,
  warning: { tone: 'warn', text: 'near its use limit' },
  reached: { tone: 'danger', text: 'use limit reached: rotate' },
};

/** The last `n` UTC days up to `today`, each with its uses (0 when none were counted). */
export function dayRange(
  days: VersionUsage['days'],
  today: Date,
  n: number,
): { day: string; uses: number }[] {
  const by = new Map(days.map((d) => [d.day, d.uses]));
  const out: { day: string; uses: number }[] = [];
  for (let i = n - 1; i >= 0; i--) {
    const day = new Date(today.getTime() - i * 86_400_000).toISOString().slice(0, 10);
    out.push({ day, uses: by.get(day) ?? 0 });
  }
  return out;
}

/** How each version of a managed key was used: a day-by-day chart, last use and operation. */
export function KeyUsage({ keyView }: { keyView: LifecycleKeyView }) {
  const usage = useQuery({
    queryKey: lifecycleKeys.usage(keyView.id),
    queryFn: () => mkm().lifecycle.usage({ ref: keyView.id }),
    refetchInterval: USAGE_REFRESH_MS,
  });
  useDueFollowsUsage(usage.dataUpdatedAt);
  return (
    <section className="stack" aria-label="Usage">
      <h3>Usage</h3>
      {usage.isPending && <Loading />}
      {usage.error && <ErrorNotice error={usage.error} />}
      {usage.data && (
        <>
          <p className="muted small">
            {usage.data.maxUses === null
              ? 'No use limit for this key.'
              : `Each version may be used ${usage.data.maxUses.toLocaleString()} times; a warning from ${Math.round(
                  usage.data.warnUsesFraction * 100,
                )} %, refused at the limit.`}
          </p>
          <ul className="usage-versions">
            {usage.data.versions
              .filter((v) => v.uses > 0 || v.primary)
              .map((v) => (
                <VersionUsageRow key={v.versionId} v={v} maxUses={usage.data.maxUses} />
              ))}
          </ul>
        </>
      )}
    </section>
  );
}

function VersionUsageRow({ v, maxUses }: { v: VersionUsage; maxUses: number | null }) {
  const badge = LEVEL_BADGES[v.level];
  return (
    <li className="usage-version" data-testid={`usage-v${v.version}`}>
      <div className="usage-head">
        <strong>v{v.version}</strong>{' '}
        <span data-testid="usage-total">
          {v.uses.toLocaleString()} {v.uses === 1 ? 'use' : 'uses'}
          {maxUses !== null && ` of ${maxUses.toLocaleString()}`}
        </span>{' '}
        {badge && <Badge tone={badge.tone}>{badge.text}</Badge>}
        <span className="muted small" data-testid="usage-last">
          {v.lastAt
            ? ` · last ${dateTime(v.lastAt)} (${OPERATION_NAMES[v.lastOperation ?? ''] ?? v.lastOperation})`
            : ' · not used yet'}
        </span>
      </div>
      <UsageBars days={dayRange(v.days, new Date(), CHART_DAYS)} level={v.level} label={`v${v.version}`} />
    </li>
  );
}

/**
 * A small bar chart of uses per day (SVG, no library: the app has no chart dependency). Colours
 * come from the theme; screen readers get the figures as a table.
 */
export function UsageBars({
  days,
  level,
  label,
}: {
  days: { day: string; uses: number }[];
  level: VersionUsage['level'];
  label: string;
}) {
  const most = Math.max(1, ...days.map((d) => d.uses));
  const total = days.reduce((n, d) => n + d.uses, 0);
  const width = 300;
  const height = 64;
  const slot = width / days.length;
  const used = days.filter((d) => d.uses > 0);
  return (
    <figure className="usage-chart">
      <svg
        viewBox={`0 0 ${width} ${height + 2}`}
        role="img"
        aria-label={`Uses per day of ${label}, last ${days.length} days: ${total.toLocaleString()} in total`}
        className={`usage-bars usage-${level}`}
        preserveAspectRatio="none"
      >
        <line x1="0" x2={width} y1={height + 1} y2={height + 1} className="usage-axis" />
        {days.map((d, i) => {
          const h = d.uses === 0 ? 0 : Math.max(2, (d.uses / most) * height);
          return (
            <rect
              key={d.day}
              x={i * slot + 1}
              y={height - h}
              width={Math.max(1, slot - 2)}
              height={h}
              data-day={d.day}
              data-uses={d.uses}
            >
              <title>{`${d.day}: ${d.uses.toLocaleString()} ${d.uses === 1 ? 'use' : 'uses'}`}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption className="muted small">
        {days[0]?.day} – {days.at(-1)?.day}
      </figcaption>
      <table className="sr-only">
        <caption>Uses per day of {label}</caption>
        <tbody>
          {used.map((d) => (
            <tr key={d.day}>
              <th scope="row">{d.day}</th>
              <td>{d.uses}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
