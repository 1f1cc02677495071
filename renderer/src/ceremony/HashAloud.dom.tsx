import { hashWords, hexGroups } from './ceremonyModel.dom';

/** A hash people compare aloud: hex in groups of four, and the same bytes as PGP words. */
export function HashAloud({ label, hex, testId }: { label: string; hex: string; testId: string }) {
  return (
    <dl className="facts cer-hash" aria-label={label}>
      <div className="fact">
        <dt>{label}</dt>
        <dd className="mono" data-testid={testId}>
          {hexGroups(hex)}
        </dd>
      </div>
      <div className="fact">
        <dt>As words</dt>
        <dd className="mono" data-testid={`${testId}-words`}>
          {hashWords(hex)}
        </dd>
      </div>
    </dl>
  );
}
