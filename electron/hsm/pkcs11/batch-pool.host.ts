import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../core/logger.main';

/**
 * Large AES batches run on two sessions at once: the host's main thread encrypts one share,
 * a worker thread (batch-worker.host.ts) the other. Calls on one session stay serialized; the
 * module was initialised with CKF_OS_LOCKING_OK, which is what allows a second thread in.
 * Any failure to start the worker turns the pool off for the host's life: batches then run on
 * one thread, as they did before, never failing because of the pool.
 */
export interface BatchWorkerData {
  libraryPath: string;
}

export interface BatchPart {
  id: number;
  /** Slot and key handles as the main thread's pkcs11js gave them (valid across sessions). */
  slot: Uint8Array;
  key: Uint8Array;
  pad: boolean;
  /** The items' bytes back to back, their lengths, and one 16-byte IV per item. */
  data: Uint8Array;
  lengths: Uint32Array;
  ivs: Uint8Array;
}

export type BatchPartResult =
  | { id: number; ok: true; data: Uint8Array; lengths: Uint32Array }
  | { id: number; ok: false; error: { message: string; name?: string; code?: number; method?: string } };

/** Below this many items a batch stays on one thread: the hop costs more than it saves. */
export const PARALLEL_MIN_ITEMS = 256;

function workerUrl(): URL {
  // Source runs (tsx) load the .ts beside this file; the build ships hsm-batch-worker.js beside
  // hsm-host.js. Where a worker cannot start (a packaging that cannot load it), the pool turns
  // itself off and batches run on one thread.
  return import.meta.url.endsWith('.ts')
    ? new URL('./batch-worker.host.ts', import.meta.url)
    : new URL('./hsm-batch-worker.js', import.meta.url);
}

export class BatchPool {
  private worker: Worker | null = null;
  private disabled: boolean;
  private nextId = 1;
  private readonly pending = new Map<number, (r: BatchPartResult) => void>();

  constructor(
    private readonly libraryPath: string,
    private readonly logger: Logger,
    enabled = availableParallelism() > 1 && process.env.MKM_HOST_THREADS !== '1',
  ) {
    this.disabled = !enabled;
  }

  get available(): boolean {
    return !this.disabled;
  }

  /** Encrypts a part on the worker; rejects with the worker's error (a pkcs11js-shaped one). */
  run(part: Omit<BatchPart, 'id'>): Promise<{ data: Uint8Array; lengths: Uint32Array }> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (r) => {
        if (r.ok) resolve({ data: r.data, lengths: r.lengths });
        else reject(Object.assign(new Error(r.error.message), r.error));
      });
      worker.postMessage({ ...part, id } satisfies BatchPart);
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const url = workerUrl();
    // A source run's worker registers tsx first (loader hooks are per thread, and workers do not
    // take --import); the build's worker is plain JavaScript.
    const tsx = url.pathname.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null;
    const worker = new Worker(
      tsx
        ? `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`
        : url,
      {
        ...(tsx ? { eval: true } : {}),
        workerData: { libraryPath: this.libraryPath } satisfies BatchWorkerData,
        // Not a user-facing process: keep it from holding the host open.
        stdout: false,
        stderr: false,
      },
    );
    worker.unref();
    worker.on('message', (r: BatchPartResult) => {
      const settle = this.pending.get(r.id);
      this.pending.delete(r.id);
      settle?.(r);
    });
    worker.on('error', (error) => this.fail('the batch worker failed', error));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.fail('the batch worker exited', new Error(`exit code ${code}`));
    });
    this.worker = worker;
    return worker;
  }

  /** A part failed for a reason that is not the token's: stop using the worker. */
  retire(error: unknown): void {
    const worker = this.worker;
    this.fail('the batch worker could not encrypt', error);
    void worker?.terminate();
  }

  private fail(message: string, error: unknown): void {
    this.logger.warn(`${message}; large batches run on one thread from now on`, { error });
    this.disabled = true;
    this.worker = null;
    for (const settle of this.pending.values()) {
      settle({ id: 0, ok: false, error: { message: 'The batch worker stopped.' } });
    }
    this.pending.clear();
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.pending.clear();
    if (worker) await worker.terminate();
  }
}
