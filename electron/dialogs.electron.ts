import { dialog, type BrowserWindow, type Session } from 'electron';
import { checkDestination, type DialogPurpose, type FileDialogs } from './core/destination.nodejs';
import type { EventBus } from './core/registry.nodejs';
import type { Logger } from './core/logger.nodejs';

/**
 * Main's own file dialogs (the page never names a path) and the destination of every download
 * the page starts (exports, the support bundle): asked in main's save dialog, which confirms a
 * replacement, then checked by checkDestination (never inside the data folder). The rules live
 * in destination.nodejs.ts and are unit-tested; this only wires Electron's dialogs to them.
 */
const FILTERS: Record<DialogPurpose, Electron.FileFilter[]> = {
  'pkcs11-library': [
    { name: 'PKCS#11 library', extensions: ['so', 'dylib', 'dll'] },
    { name: 'All files', extensions: ['*'] },
  ],
  'batch-input': [{ name: 'CSV', extensions: ['csv'] }],
  'batch-output': [{ name: 'CSV', extensions: ['csv'] }],
  'support-bundle': [{ name: 'JSON', extensions: ['json'] }],
};

export function electronDialogs(window: () => BrowserWindow | null): FileDialogs {
  return {
    open: async ({ title, purpose }) => {
      const win = window();
      const options: Electron.OpenDialogOptions = {
        title,
        filters: FILTERS[purpose],
        properties: ['openFile'],
      };
      const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
    save: async ({ title, defaultName, purpose }) => {
      const win = window();
      const options: Electron.SaveDialogOptions = {
        title,
        defaultPath: defaultName,
        filters: FILTERS[purpose],
        // Linux: GTK asks before replacing only when told to (macOS and Windows always ask).
        properties: ['showOverwriteConfirmation', 'createDirectory'],
      };
      const result = win ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
      return result.canceled ? null : (result.filePath ?? null);
    },
  };
}

export function guardDownloads(
  ses: Session,
  options: { dataDir: string; window: () => BrowserWindow | null; logger: Logger; events: EventBus },
): void {
  ses.on('will-download', (_event, item) => {
    const win = options.window();
    const dialogOptions: Electron.SaveDialogOptions = {
      title: 'Save',
      defaultPath: item.getFilename(),
      properties: ['showOverwriteConfirmation', 'createDirectory'],
    };
    const picked = win
      ? dialog.showSaveDialogSync(win, dialogOptions)
      : dialog.showSaveDialogSync(dialogOptions);
    if (!picked) {
      item.cancel();
      return;
    }
    try {
      // The dialog asked before replacing a file.
      item.setSavePath(checkDestination(picked, { dataDir: options.dataDir, overwrite: true }));
    } catch (error) {
      item.cancel();
      options.logger.warn('refused a download destination', { error });
      options.events.emit('app.notice', {
        level: 'error',
        code: (error as { code?: string }).code ?? 'IO_ERROR',
        message: (error as Error).message,
      });
    }
  });
}
