import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * openCryptoki's software token (swtok), for the one test that needs a real PIN retry counter
 * (SoftHSM2 has none). Unlike a SoftHSM2 token it cannot live in a temp dir: there is one swtok
 * per machine, behind the pkcsslotd daemon. So a test takes it under a machine-wide lock (other
 * vitest workers, a Playwright run, a second checkout) and re-makes it with
 * `scripts/opencryptoki-token.sh`, which re-initializes it (full retries) and sets a fresh user PIN.
 *
 *   const ock = await acquireOpenCryptoki();   // waits for the lock, fails loudly if unusable
 *   const token = await ock.remake();          // erase, new user PIN, as often as needed
 *   ...
 *   ock.release();
 *
 * No skipping: `.ci/run` installs openCryptoki (scripts/system-deps.sh), so a missing daemon or
 * library is a broken machine, and the error says how to fix it.
 */
export interface OpenCryptokiToken {
  modulePath: string;
  slotId: number;
  label: string;
  soPin: string;
  userPin: string;
}

export interface OpenCryptoki {
  /** Re-initialize the swtok token (everything on it is erased) with a fresh user PIN. */
  remake(label?: string): Promise<OpenCryptokiToken>;
  release(): void;
}

const SCRIPT = join(import.meta.dirname, '../../scripts/opencryptoki-token.sh');
const LOCK = join(tmpdir(), 'mkm-opencryptoki-swtok.lock');
const run = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** mkdir is atomic: whoever creates the directory holds the lock; a dead holder's lock is taken over. */
function tryLock(): boolean {
  try {
    mkdirSync(LOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    let holder = NaN;
    try {
      holder = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
    } catch {
      // Created but its pid not written yet: treat as held.
      return false;
    }
    if (alive(holder)) return false;
    rmSync(LOCK, { recursive: true, force: true });
    return tryLock();
  }
  writeFileSync(join(LOCK, 'pid'), String(process.pid));
  return true;
}

export async function acquireOpenCryptoki(timeoutMs = 120_000): Promise<OpenCryptoki> {
  const deadline = Date.now() + timeoutMs;
  while (!tryLock()) {
    if (Date.now() > deadline) {
      throw new Error(
        `The openCryptoki swtok token is held by another process (lock ${LOCK}) for over ${timeoutMs / 1000} s.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const release = () => {
    process.off('exit', release);
    try {
      if (readFileSync(join(LOCK, 'pid'), 'utf8') === String(process.pid)) {
        rmSync(LOCK, { recursive: true, force: true });
      }
    } catch {
      // Already gone.
    }
  };
  process.on('exit', release);
  return {
    async remake(label = 'mkm-lockout') {
      try {
        const { stdout } = await run('bash', [SCRIPT], { env: { ...process.env, OCK_LABEL: label } });
        const made = JSON.parse(stdout) as Omit<OpenCryptokiToken, 'modulePath'> & { module: string };
        return {
          modulePath: made.module,
          slotId: made.slotId,
          label: made.label,
          soPin: made.soPin,
          userPin: made.userPin,
        };
      } catch (error) {
        const e = error as { stderr?: string; message: string };
        throw new Error(
          `The openCryptoki token for the PIN lockout test could not be made: ${(e.stderr || e.message).trim()}`,
        );
      }
    },
    release,
  };
}
