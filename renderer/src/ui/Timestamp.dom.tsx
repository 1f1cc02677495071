/**
 * A moment as the admin's locale writes it, inside a <time> that carries the exact instant (in
 * its dateTime, and in the tooltip for support staff who need the UTC second). Every local date
 * and time on screen goes through here, so one rule can find them all: the layout test gives
 * them a box of one width, since "9:05 PM" and "11:05 PM" are not as wide. An unreadable value
 * is shown as it came, never as "Invalid Date".
 */
export function Timestamp({ at, part = 'date-time' }: { at: string | number; part?: 'date-time' | 'time' }) {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return <>{String(at)}</>;
  const iso = d.toISOString();
  return (
    <time className="timestamp" dateTime={iso} title={iso}>
      {part === 'time' ? d.toLocaleTimeString() : d.toLocaleString()}
    </time>
  );
}
