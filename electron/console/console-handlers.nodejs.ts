import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.nodejs';
import type { AppServices } from '../core/services.nodejs';
import {
  type BatchFileDeps,
  downloadBatchOutput,
  pickBatchInput,
  resolveBatchFiles,
  uploadBatchInput,
} from './batch-files.nodejs';
import type { ConsoleService } from './console-service.nodejs';

/** The `console.*` channels, over the app's one ConsoleService (composed in createApp). */
export function consoleHandlers(
  services: BatchFileDeps & Pick<AppServices, 'tokens'>,
  service: ConsoleService,
): Handlers<Contract>['console'] {
  return {
    compose: ({ fields }) => service.compose(fields),
    profileState: ({ profileId }) => service.profileState(profileId),
    encrypt: (request) => service.encrypt(request),
    encryptMessage: (request) => service.encryptMessage(request),
    decryptMessage: (request) => service.decryptMessage(request),
    verify: (request) => service.verify(request),
    history: ({ limit }) => service.listHistory(limit),
    historyClear: () => ({ cleared: service.history.clear() }),
    historyPersistence: ({ persist }) => {
      if (persist !== undefined) service.history.setPersistent(persist);
      return { persist: service.history.persistent, file: service.history.file };
    },
    lastCiphertexts: () => service.lastCiphertexts(),
    batchStart: async ({ inPath, outPath, input, output, overwrite, ...rest }, ctx) => {
      const files = await resolveBatchFiles(services, ctx, { inPath, outPath, input, output, overwrite });
      let summary;
      try {
        summary = await service.batchStart({
          ...rest,
          inPath: files.inPath,
          inData: files.inData,
          outPath: files.outPath,
          overwrite: files.overwrite,
        });
      } catch (error) {
        files.abandon();
        throw error;
      }
      return files.finish(summary);
    },
    batchPickInput: () => pickBatchInput(services),
    batchUpload: ({ name, content }) => uploadBatchInput(services, name, content),
    batchDownload: ({ fileId }) => downloadBatchOutput(services, fileId),
    batchCancel: ({ operationId }) => {
      const result = service.batchCancel(operationId);
      // A chunk the token is not answering is abandoned too, or the cancel waits for the bound.
      if (result.cancelled) services.tokens.operations.cancel(operationId);
      return result;
    },
  };
}
