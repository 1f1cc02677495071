import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Vitest global setup for the integration project: every fault case appends a line to one tally
 * file (MKM_FAULT_TALLY, inherited by the test workers), and the end of the run prints the
 * compass figures from it.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'mkm-fault-tally-'));
  const file = join(dir, 'tally.jsonl');
  process.env.MKM_FAULT_TALLY = file;
  return () => {
    const lines = existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { area: string; survived: boolean; torn: number; fuzz?: string })
      : [];
    rmSync(dir, { recursive: true, force: true });
    // The IPC fuzzer's compass line (ipc-fuzz.test.ts), printed again at the end of the run.
    for (const l of lines) if (l.fuzz) console.log(`\n${l.fuzz}`);
    const cases = lines.filter((l) => !l.fuzz);
    if (cases.length === 0) return;
    const survived = cases.filter((c) => c.survived).length;
    const torn = cases.reduce((n, c) => n + c.torn, 0);
    const areas = [...new Set(cases.map((c) => c.area))]
      .map((a) => {
        const mine = cases.filter((c) => c.area === a);
        return `${a} ${mine.filter((c) => c.survived).length}/${mine.length}`;
      })
      .join(', ');
    console.log(`\nfault cases survived ${survived}/${cases.length}, files torn ${torn} (${areas})`);
  };
}
