import type { ComposeFields, ComposeReport } from '../../shared/console/compose.std';
import { checkCompose } from '../../shared/console/compose.std';
import type {
  ConsoleCiphertextInfo,
  ConsoleHistoryEntry,
  ConsoleProfileState,
} from '../../shared/contract/console.std';
import { ConsoleBatches } from './batch-runs.nodejs';
import { ConsoleContext, type ConsoleServiceDeps } from './console-context.nodejs';
import { encryptFields } from './cse.nodejs';
import type { ConsoleHistory } from './history.nodejs';
import { decryptMessage, encryptMessage } from './messages.nodejs';
import { verifyRoundTrip } from './round-trip.nodejs';

export type { ConsoleServiceDeps } from './console-context.nodejs';
export { SCHEME_PADDING } from './console-context.nodejs';
export { envelopeParts } from './messages.nodejs';
export { wireValue } from './round-trip.nodejs';

/**
 * The payload test console in main. Clear card and bank values arrive in a request, are used
 * for that call and dropped: they are never logged (not even handed to the redacting logger),
 * never stored, never returned except as masks. What it keeps is the history (masks only) and,
 * for the troubleshooter, `lastCiphertexts()`: schemes, key fingerprints, set ids and lengths.
 */
export class ConsoleService {
  readonly history: ConsoleHistory;
  private readonly ctx: ConsoleContext;
  private readonly batches: ConsoleBatches;

  constructor(deps: ConsoleServiceDeps) {
    this.ctx = new ConsoleContext(deps);
    this.history = this.ctx.history;
    this.batches = new ConsoleBatches(this.ctx);
  }

  compose(fields: ComposeFields): ComposeReport {
    return checkCompose(fields);
  }

  profileState(profileId: string): Promise<ConsoleProfileState> {
    return this.ctx.profileState(profileId);
  }

  /** Non-secret facts about the last ciphertexts made here, newest first (for the troubleshooter). */
  lastCiphertexts(): ConsoleCiphertextInfo[] {
    return this.ctx.lastCiphertexts();
  }

  encrypt(request: Parameters<typeof encryptFields>[1]) {
    return encryptFields(this.ctx, request);
  }

  encryptMessage(request: Parameters<typeof encryptMessage>[1]) {
    return encryptMessage(this.ctx, request);
  }

  decryptMessage(request: Parameters<typeof decryptMessage>[1]) {
    return decryptMessage(this.ctx, request);
  }

  verify(request: Parameters<typeof verifyRoundTrip>[1]) {
    return verifyRoundTrip(this.ctx, request);
  }

  listHistory(limit?: number): ConsoleHistoryEntry[] {
    return this.history.list(limit);
  }

  batchStart(request: Parameters<ConsoleBatches['start']>[0]) {
    return this.batches.start(request);
  }

  batchCancel(operationId: string): { cancelled: boolean } {
    return this.batches.cancel(operationId);
  }

  /** Cancels running batches and waits for their partial output to be closed. */
  close(): Promise<void> {
    return this.batches.close();
  }
}
