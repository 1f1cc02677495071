import { readFileSync, rmSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { BatchSummary, HeldFileView } from '../../shared/contract/console.std';
import { MkmError } from '../../shared/errors.std';
import { chooseDestination, refuseInDataFolder, type HeldFile } from '../core/destination.nodejs';
import type { CallContext } from '../core/registry.nodejs';
import type { AppServices } from '../core/services.nodejs';

/** What the batch's file handling needs of the app: held files, dialogs, the data folders. */
export type BatchFileDeps = Pick<AppServices, 'files' | 'dialogs' | 'paths'>;

/**
 * The batch's files, by who asks: the CLI (the user's own shell) names paths; a page names none.
 * It hands over an input picked in main's open dialog or uploaded through main, and has the
 * output saved where main's save dialog says (desktop app) or kept by main for one download
 * (browser mode). Every output stays out of the data folder.
 */
export interface BatchFilesRequest {
  inPath?: string | undefined;
  outPath?: string | undefined;
  input?: string | undefined;
  output?: 'dialog' | 'download' | undefined;
  overwrite?: boolean | undefined;
}

export interface ResolvedBatchFiles {
  inPath: string;
  inData?: Buffer;
  outPath: string;
  overwrite: boolean;
  /** After the run: the summary as the caller sees it, and the uploads gone. */
  finish(summary: BatchSummary): BatchSummary;
  /** The run did not start: the uploads go. */
  abandon(): void;
}

const view = (file: HeldFile): HeldFileView => ({ fileId: file.id, name: file.name, bytes: file.bytes });

export async function pickBatchInput(services: BatchFileDeps): Promise<HeldFileView | null> {
  if (!services.dialogs) throw new MkmError('PICKER_UNAVAILABLE');
  const path = await services.dialogs.open({
    title: 'Choose the CSV file to encrypt',
    purpose: 'batch-input',
  });
  return path ? view(services.files.holdPicked(path)) : null;
}

export function uploadBatchInput(services: BatchFileDeps, name: string, content: string): HeldFileView {
  return view(services.files.holdUpload(name, Buffer.from(content, 'utf8')));
}

export function downloadBatchOutput(services: BatchFileDeps, fileId: string) {
  const file = services.files.take(fileId, 'download');
  try {
    return { fileName: file.name, mime: 'text/csv' as const, content: readFileSync(file.path!, 'utf8') };
  } finally {
    rmSync(file.path!, { force: true });
  }
}

export async function resolveBatchFiles(
  services: BatchFileDeps,
  ctx: CallContext,
  request: BatchFilesRequest,
): Promise<ResolvedBatchFiles> {
  const dataDir = services.paths.root;
  if (ctx.sender.transport === 'cli') {
    if (request.input !== undefined || request.output !== undefined) {
      throw new MkmError('VALIDATION', 'The CLI names the files with --in and --out.', { field: 'input' });
    }
    if (!request.inPath || !request.outPath) {
      throw new MkmError('VALIDATION', 'Name the input and the output file.', { field: 'inPath' });
    }
    refuseInDataFolder(request.outPath, dataDir);
    return {
      inPath: request.inPath,
      outPath: request.outPath,
      overwrite: request.overwrite ?? false,
      finish: (summary) => summary,
      abandon: () => {},
    };
  }
  if (request.inPath !== undefined || request.outPath !== undefined || request.overwrite !== undefined) {
    throw new MkmError('PATH_NOT_ALLOWED');
  }
  if (!request.input) throw new MkmError('VALIDATION', 'Choose the input file first.', { field: 'input' });
  const input = services.files.take(request.input, 'input');
  const source = input.data
    ? { inPath: `upload:${input.name}`, inData: input.data }
    : { inPath: input.path! };
  const removeUpload = () => input.data?.fill(0);
  try {
    const outName = `${basename(input.name, extname(input.name))}-encrypted.csv`;
    if ((request.output ?? (services.dialogs ? 'dialog' : 'download')) === 'dialog') {
      const destination = await chooseDestination(
        ctx.sender,
        {},
        {
          dataDir,
          dialogs: services.dialogs,
          title: 'Save the encrypted CSV',
          defaultName: outName,
          purpose: 'batch-output',
        },
      );
      if (!destination) throw new MkmError('CANCELLED', 'No output file was chosen.');
      return {
        ...source,
        outPath: destination.path,
        overwrite: destination.overwrite,
        finish: (summary) => {
          removeUpload();
          return summary;
        },
        abandon: removeUpload,
      };
    }
    const target = services.files.downloadTarget(outName);
    return {
      ...source,
      outPath: target.path,
      overwrite: false,
      finish: (summary) => {
        removeUpload();
        const done = summary.status === 'done';
        if (!done) rmSync(summary.outputPath || target.path, { force: true });
        return {
          ...summary,
          // The page sees the name it will save, never main's private folder.
          outputPath: done ? target.name : '',
          download: done ? { fileId: services.files.holdDownload(target).id, fileName: target.name } : null,
        };
      },
      abandon: removeUpload,
    };
  } catch (error) {
    removeUpload();
    throw error;
  }
}
