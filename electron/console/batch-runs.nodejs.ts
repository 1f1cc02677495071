import { randomUUID } from 'node:crypto';
import type { BatchScheme, BatchSummary } from '../../shared/contract/console.std';
import { MkmError } from '../../shared/errors.std';
import { checkBatchPaths, runBatch, tokenAesTarget } from './batch.nodejs';
import { SCHEME_PADDING, refuseSchemeMismatch, type ConsoleContext } from './console-context.nodejs';

const PROGRESS_EVERY_MS = 200;

/** The console's running batches: started one operation id at a time, cancelled, closed. */
export class ConsoleBatches {
  private readonly batches = new Map<string, { abort: AbortController; done: Promise<unknown> }>();

  constructor(private readonly ctx: ConsoleContext) {}

  async start(request: {
    operationId?: string | undefined;
    inPath: string;
    /** An upload held in memory: read instead of inPath, which then only names it. */
    inData?: Buffer | undefined;
    outPath: string;
    scheme: BatchScheme;
    profileId?: string | undefined;
    keyId?: string | undefined;
    slotId?: number | undefined;
    overwrite?: boolean | undefined;
    overrideScheme?: boolean | undefined;
  }): Promise<BatchSummary> {
    const operationId = request.operationId ?? randomUUID();
    if (this.batches.has(operationId)) {
      throw new MkmError('CONFLICT', 'A batch with this operation id is already running.', { operationId });
    }
    checkBatchPaths(request.inData ? null : request.inPath, request.outPath, request.overwrite ?? false);
    const abort = new AbortController();
    const { events, tokens } = this.ctx.deps;
    let rsa: Parameters<typeof runBatch>[0]['rsa'];
    let aes: Parameters<typeof runBatch>[0]['aes'];
    let profileId: string | null = null;
    if (request.scheme === 'aes') {
      if (!request.keyId)
        throw new MkmError('VALIDATION', 'Choose the token AES key for an AES batch.', { field: 'keyId' });
      const slotId = request.slotId ?? (await this.ctx.loggedInSlot());
      const keyId = request.keyId.toLowerCase();
      const objects = await tokens.call('listObjects', { slotId, class: 'secret' });
      const key = objects.find((o) => o.id === keyId);
      if (!key)
        throw new MkmError('KEY_NOT_FOUND', `No secret key with id ${keyId} on the token.`, { keyId });
      if (key.keyType !== 'aes' || key.bits !== 256 || !key.usages.includes('encrypt')) {
        throw new MkmError('KEY_TYPE_INCONSISTENT', 'The batch needs an AES-256 key that may encrypt.', {
          keyId,
        });
      }
      aes = tokenAesTarget(tokens, this.ctx.deps.usage, slotId, keyId);
    } else {
      if (!request.profileId) {
        throw new MkmError('VALIDATION', 'Choose the gateway profile whose public key encrypts the batch.', {
          field: 'profileId',
        });
      }
      profileId = request.profileId;
      const { key } = await this.ctx.pinnedKey(request.profileId);
      refuseSchemeMismatch(SCHEME_PADDING[request.scheme], key.padding, request.overrideScheme);
      rsa = { key: key.keyObject, padding: SCHEME_PADDING[request.scheme], fingerprint: key.spkiSha256 };
    }
    let lastEmit = 0;
    const emit = (phase: string, fraction: number | null, message: string) =>
      events.emit('progress', { operationId, phase, fraction, message });
    const running = runBatch({
      operationId,
      inPath: request.inPath,
      inData: request.inData,
      outPath: request.outPath,
      scheme: request.scheme,
      overwrite: request.overwrite ?? false,
      ...(rsa ? { rsa } : {}),
      ...(aes ? { aes } : {}),
      usage: this.ctx.deps.usage ?? null,
      signal: abort.signal,
      onProgress: (fraction, rows) => {
        const now = Date.now();
        if (rows !== 0 && now - lastEmit < PROGRESS_EVERY_MS) return;
        lastEmit = now;
        emit(rows === 0 ? 'started' : 'running', fraction, `${rows.toLocaleString('en-US')} rows encrypted…`);
      },
    });
    this.batches.set(operationId, { abort, done: running });
    let summary: BatchSummary;
    try {
      summary = await running;
    } finally {
      this.batches.delete(operationId);
    }
    emit(
      summary.status,
      summary.status === 'done' ? 1 : null,
      summary.status === 'done'
        ? `${summary.encrypted.toLocaleString('en-US')} rows encrypted, ${summary.failed.toLocaleString('en-US')} with errors.`
        : summary.status === 'cancelled'
          ? `Cancelled after ${summary.rows.toLocaleString('en-US')} rows; the partial output is ${summary.outputPath}.`
          : `Failed: ${summary.error?.message ?? 'unknown error'}`,
    );
    this.ctx.history.add({
      kind: 'batch',
      profileId,
      scheme: request.scheme,
      outcome:
        summary.status === 'done'
          ? 'ok'
          : summary.status === 'cancelled'
            ? 'CANCELLED'
            : (summary.error?.code ?? 'INTERNAL'),
      summary: `${summary.rows} rows, ${summary.encrypted} encrypted, ${summary.failed} errors (${summary.status})`,
    });
    this.ctx.remember({
      kind: 'batch',
      profileId,
      scheme: request.scheme,
      keyFingerprint: summary.keyFingerprint,
      keyId: aes?.keyId ?? null,
      setId: null,
      lengths: { rows: summary.rows },
    });
    this.ctx.deps.logger.info('console batch finished', {
      operationId,
      scheme: request.scheme,
      status: summary.status,
      rows: summary.rows,
      failed: summary.failed,
      elapsedMs: summary.elapsedMs,
    });
    return summary;
  }

  cancel(operationId: string): { cancelled: boolean } {
    const running = this.batches.get(operationId);
    if (!running) return { cancelled: false };
    running.abort.abort();
    return { cancelled: true };
  }

  /** Cancels running batches and waits for their partial output to be closed. */
  async close(): Promise<void> {
    const running = [...this.batches.values()];
    for (const b of running) b.abort.abort();
    await Promise.allSettled(running.map((b) => b.done));
  }
}
