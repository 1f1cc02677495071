import type { Contract } from '../../shared/contract.std';
import type { Handlers } from '../core/registry.main';
import type { AppServices } from '../core/services.main';
import { downloadBatchOutput, pickBatchInput, resolveBatchFiles, uploadBatchInput } from './batch-files.main';
import { consoleServiceFor } from './console-service.main';

/** The `console.*` channels, over the app's one ConsoleService. */
export function consoleHandlers(services: AppServices): Handlers<Contract>['console'] {
  const svc = () => consoleServiceFor(services);
  return {
    compose: ({ fields }) => svc().compose(fields),
    profileState: ({ profileId }) => svc().profileState(profileId),
    encrypt: (request) => svc().encrypt(request),
    encryptMessage: (request) => svc().encryptMessage(request),
    decryptMessage: (request) => svc().decryptMessage(request),
    verify: (request) => svc().verify(request),
    history: ({ limit }) => svc().listHistory(limit),
    historyClear: () => ({ cleared: svc().history.clear() }),
    historyPersistence: ({ persist }) => {
      if (persist !== undefined) svc().history.setPersistent(persist);
      return { persist: svc().history.persistent, file: svc().history.file };
    },
    lastCiphertexts: () => svc().lastCiphertexts(),
    batchStart: async ({ inPath, outPath, input, output, overwrite, ...rest }, ctx) => {
      const files = await resolveBatchFiles(services, ctx, { inPath, outPath, input, output, overwrite });
      let summary;
      try {
        summary = await svc().batchStart({
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
      const result = svc().batchCancel(operationId);
      // A chunk the token is not answering is abandoned too, or the cancel waits for the bound.
      if (result.cancelled) services.tokens.operations.cancel(operationId);
      return result;
    },
  };
}
