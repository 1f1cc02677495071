import { app, BrowserWindow, ipcMain, session, shell, type IpcMainInvokeEvent } from 'electron';
import ElectronStore from 'electron-store';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { handleAppProtocol, registerAppScheme } from './app-protocol.electron';
import { createApp } from './core/app.nodejs';
import { createLogger } from './core/logger.nodejs';
import { rendererUrl } from './core/renderer-files.nodejs';
import { dataPaths } from './core/paths.nodejs';
import type { SenderInfo } from './core/registry.nodejs';
import { appUrlMatcher, isTrustedElectronSender } from './core/sender-policy.nodejs';
import type { StoreData } from './core/store.nodejs';
import { IPC_CALL, IPC_EVENT } from './ipc-channels.std';
import { createElectronHostSpawner } from './hsm/host-spawner.electron';
import { electronGatewaySecrets } from './gateway/secret-store.electron';
import { installSecurityHandlers } from './security.electron';
import { electronDialogs, guardDownloads } from './dialogs.electron';

/**
 * Electron's main process: window, lifecycle and the ipcMain end of the contract. Everything
 * privileged lives in the services createApp composes; this file only wires them to Electron.
 */
const here = fileURLToPath(new URL('.', import.meta.url));
// A packaged app loads only itself: VITE_DEV_SERVER_URL is ignored there (rendererUrl).
const appUrl = rendererUrl({ packaged: app.isPackaged, devServerUrl: process.env.VITE_DEV_SERVER_URL });
const isDev = !app.isPackaged && (appUrl.startsWith('http:') || Boolean(process.env.MKM_DEVTOOLS));
const rendererRoot = join(here, '../dist/renderer');
registerAppScheme();

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  start();
}

const isAppUrl = appUrlMatcher(appUrl);

function start(): void {
  const dataDir = process.env.MKM_DATA_DIR ?? app.getPath('userData');
  const logger = createLogger({ name: 'main', file: dataPaths(dataDir).logFile });
  let mainWindow: BrowserWindow | null = null;

  // The main process never dies of bad input: log, tell the UI, carry on.
  process.on('uncaughtException', (error) => logger.error('uncaught exception', { error }));
  process.on('unhandledRejection', (error) => logger.error('unhandled rejection', { error }));

  app.enableSandbox();
  installSecurityHandlers(isAppUrl, logger);

  const services = createApp({
    mode: 'electron',
    dataDir,
    packaged: app.isPackaged,
    logger,
    versions: { electron: process.versions.electron ?? null, chrome: process.versions.chrome ?? null },
    storeFactory: (options) => new ElectronStore<StoreData>(options),
    watchSlots: true,
    gatewaySecrets: electronGatewaySecrets(dataDir),
    // The page never names a path: main's dialogs choose files (destination.nodejs.ts checks them).
    dialogs: electronDialogs(() => mainWindow),
    hostSpawnerFor: (env) => createElectronHostSpawner({ hostEntry: join(here, 'hsm-host.js'), env }),
    // createApp passes only allow-listed https URLs (isAllowedExternalUrl) to this function.
    openExternal: (url) => shell.openExternal(url) /* eng-disable OPEN_EXTERNAL_JS_CHECK */,
    isTrustedSender: (sender: SenderInfo) =>
      isTrustedElectronSender(sender, { webContentsId: mainWindow?.webContents.id ?? null, isAppUrl }),
  });

  ipcMain.handle(IPC_CALL, (event: IpcMainInvokeEvent, channel: unknown, request: unknown) => {
    const frame = event.senderFrame;
    return services.registry.dispatch(channel, request, {
      transport: 'electron',
      webContentsId: event.sender.id,
      frameUrl: frame?.url ?? '',
      isMainFrame: frame !== null && frame === event.sender.mainFrame,
    });
  });
  services.events.subscribe((name, payload) => mainWindow?.webContents.send(IPC_EVENT, name, payload));

  const createWindow = () => {
    mainWindow = new BrowserWindow({
      width: 1280,
      height: 820,
      minWidth: 960,
      minHeight: 600,
      show: false,
      title: 'Merchant Key Manager',
      backgroundColor: '#10151c',
      webPreferences: {
        // Our own bundled preload: it exposes only the contract object through contextBridge.
        preload: join(here, 'preload.cjs') /* eng-disable PRELOAD_JS_CHECK */,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webviewTag: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        experimentalFeatures: false,
        navigateOnDragDrop: false,
        spellcheck: false,
        disableBlinkFeatures: 'Auxclick',
        devTools: isDev,
      },
    });
    mainWindow.once('ready-to-show', () => mainWindow?.show());
    mainWindow.on('closed', () => (mainWindow = null));
    void mainWindow.loadURL(appUrl);
  };

  app.on('second-instance', () => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    }
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (!mainWindow) createWindow();
  });
  app.on('will-quit', () => void services.close());
  app.whenReady().then(
    () => {
      handleAppProtocol(rendererRoot, logger);
      guardDownloads(session.defaultSession, {
        dataDir,
        window: () => mainWindow,
        logger,
        events: services.events,
      });
      createWindow();
    },
    (error) => logger.error('app failed to start', { error }),
  );
}
