import { useQuery } from '@tanstack/react-query';
import type { AuditEntryView, LifecycleKeyView } from '../../../shared/contract.std';
import { mkm } from '../api.dom';
import { ErrorNotice, Loading } from '../ui/bits.dom';
import { dateTime } from './format.dom';
import { lifecycleKeys } from './queries.dom';

interface Event {
  time: string;
  text: string;
  result: string;
  source: 'audit' | 'record';
}

const ACTIONS: Record<string, string> = {
  'key.rotate.plan': 'Rotation planned',
  'key.generate': 'Generated on the token',
  'key.gateway.register': 'Registered with the gateway',
  'key.gateway.retire': 'Retired at the gateway',
  'key.gateway.status': 'Gateway status recorded',
  'key.rotate.promote': 'Made primary',
  'key.rotate.complete': 'Rotation complete',
  'key.rotate.resume': 'Rotation resumed after a restart',
  'key.rotate.abandon': 'Rotation rolled back',
  'key.compromise': 'Declared compromised',
  'key.deactivate': 'Deactivated',
  'key.suspend': 'Suspended',
  'key.reactivate': 'Reactivated',
  'key.destroy': 'Destroyed (tombstone kept)',
  'key.adopt': 'Adopted from the token',
  'key.import-public': 'Imported',
  'key.missing': 'Missing from the token',
};

/** A key's first version is planned by its creation, not by a rotation. */
function actionText(e: AuditEntryView): string {
  if (e.action === 'key.rotate.plan' && e.details?.reason === 'initial') return 'Creation planned';
  return ACTIONS[e.action] ?? e.action;
}

function versionOf(e: AuditEntryView, key: LifecycleKeyView): string {
  const v = e.details?.version;
  if (typeof v === 'number') return `v${v} `;
  // Entries that name the version only by id (e.g. a rotation's plan).
  const byId = key.versions.find((x) => x.id === e.details?.versionId);
  return byId ? `v${byId.version} ` : '';
}

/**
 * What happened to a logical key: the audit log's entries for it (they carry its id in their
 * details), with the dates the inventory keeps for the time before the log or when it is not
 * readable. Newest first.
 */
export function Timeline({ keyView }: { keyView: LifecycleKeyView }) {
  const audit = useQuery({
    queryKey: lifecycleKeys.timeline(keyView.id),
    queryFn: () => mkm().audit.query({ filter: { action: 'key.', text: keyView.id }, limit: 500 }),
  });
  const fromAudit: Event[] = (audit.data?.entries ?? [])
    .filter((e) => e.details?.logicalKeyId === keyView.id)
    .map((e) => ({
      time: e.time,
      text: `${versionOf(e, keyView)}${actionText(e)}${e.action === 'key.compromise' && typeof e.details?.note === 'string' ? `: ${e.details.note}` : ''}`,
      result: e.result,
      source: 'audit',
    }));
  // The inventory's own dates, for what the audit log does not show (e.g. a grace period's end).
  const fromRecords: Event[] = keyView.versions.flatMap((v) =>
    v.graceUntil && v.state === 'active' && !v.primary
      ? [
          {
            time: v.graceUntil,
            text: `v${v.version} grace period ends (then deactivated)`,
            result: 'ok',
            source: 'record' as const,
          },
        ]
      : [],
  );
  if (audit.isSuccess && fromAudit.length === 0) {
    for (const v of keyView.versions) {
      fromRecords.push({ time: v.createdAt, text: `v${v.version} created`, result: 'ok', source: 'record' });
      if (v.compromisedAt)
        fromRecords.push({
          time: v.compromisedAt,
          text: `v${v.version} declared compromised`,
          result: 'ok',
          source: 'record',
        });
      if (v.destroyedAt)
        fromRecords.push({
          time: v.destroyedAt,
          text: `v${v.version} destroyed`,
          result: 'ok',
          source: 'record',
        });
    }
  }
  const events = [...fromAudit, ...fromRecords].sort((a, b) => b.time.localeCompare(a.time));

  return (
    <section aria-label="Timeline" className="lc-timeline">
      <h3>Timeline</h3>
      {audit.isPending && <Loading>Reading the audit log…</Loading>}
      {audit.error && <ErrorNotice error={audit.error} onRetry={() => void audit.refetch()} />}
      {events.length > 0 && (
        <ol data-testid="timeline">
          {events.map((e, i) => (
            <li
              key={`${e.time}-${i}`}
              className={e.source === 'record' && e.time > new Date().toISOString() ? 'lc-future' : undefined}
            >
              <time dateTime={e.time} className="muted small mono">
                {dateTime(e.time)}
              </time>{' '}
              <span>{e.text}</span>
              {e.result !== 'ok' && <code className="code-chip">{e.result}</code>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
