import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { ERROR_SENTENCES, MkmError } from '../../shared/errors.std';
import { createApp, type App } from '../core/app.nodejs';
import type { Logger } from '../core/logger.nodejs';
import type { SenderInfo } from '../core/registry.nodejs';
import { RENDERER_TYPES, rendererHeaders, resolveRendererPath } from '../core/renderer-files.nodejs';
import {
  clientMessage,
  LAUNCH_CODE_PARAM,
  LAUNCH_PATH,
  SECRET_FRAGMENT_KEY,
  WS_PATH,
  type ServerMessage,
} from '../../shared/browser-protocol.std';

/**
 * Browser mode: the real main-process services in plain Node, the real renderer in any
 * Chromium, and the preload's API object rebuilt over a loopback WebSocket. The socket checks
 * Host, Origin and a per-launch secret before it passes a single call to the registry.
 *
 * The secret itself is never printed and never put in a URL that a process's argv could show to
 * another local user: what is printed (and handed to Chromium through a 0600 file) is a
 * one-time launch link. Its first use answers with a redirect whose fragment carries the secret
 * (fragments are never sent over HTTP; the page moves it to sessionStorage and out of the address
 * bar at once); every later use of the link is refused.
 */

export interface BrowserModeOptions {
  dataDir: string;
  /** The built renderer (vite build → dist/renderer). */
  rendererDir: string;
  port?: number;
  logger?: Logger;
  /** Fixed secret for tests; random otherwise. */
  secret?: string;
  /** Libraries named at start (--module, MKM_MODULE) that the page may choose. */
  launchModules?: readonly string[];
  /** Told once, when the launch link has been used (the launcher file can go). */
  onLaunched?: () => void;
}

export interface BrowserMode {
  /** The one-time launch link: works once, and holds a code, never the secret. */
  url: string;
  origin: string;
  port: number;
  app: App;
  close(): Promise<void>;
}

export function assertBrowserModeAllowed(): void {
  // Browser mode is a development and support tool: never inside the packaged Electron app.
  if (
    process.versions.electron ||
    (process as { resourcesPath?: string }).resourcesPath?.includes('app.asar')
  ) {
    throw new MkmError('NOT_IMPLEMENTED', 'Browser mode is not available in the packaged app.');
  }
}

export async function startBrowserMode(options: BrowserModeOptions): Promise<BrowserMode> {
  assertBrowserModeAllowed();
  const rendererDir = resolve(options.rendererDir);
  const indexFile = join(rendererDir, 'index.html');
  if (!existsSync(indexFile)) {
    throw new MkmError(
      'NOT_FOUND',
      `The renderer is not built (${indexFile} is missing). Run "npm run build".`,
    );
  }
  const secret = options.secret ?? randomBytes(32).toString('base64url');
  const secretBytes = Buffer.from(secret);
  const firstLaunchCode = randomBytes(32);
  let launchCode: Buffer | null = firstLaunchCode;
  let origin = '';
  let host = '';

  const isTrustedSender = (sender: SenderInfo) =>
    sender.transport === 'websocket' && sender.authenticated && sender.origin === origin;
  const app = createApp({
    mode: 'browser',
    dataDir: options.dataDir,
    isTrustedSender,
    launchModules: options.launchModules ?? [],
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const log = app.logger.child({ component: 'browser-mode' });

  // The bridge script must run before the app's module script, so it goes first in <head>.
  const indexHtml = readFileSync(indexFile, 'utf8').replace(
    '<head>',
    '<head>\n    <script type="module" src="./web-bridge.js"></script>',
  );

  const server = createServer((req, res) => serveStatic(req, res));
  function serveStatic(req: IncomingMessage, res: ServerResponse) {
    const headers = rendererHeaders();
    // A DNS-rebinding page arrives with a foreign Host header.
    if (req.headers.host !== host || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(req.headers.host !== host ? 421 : 405, headers).end();
      return;
    }
    const requestUrl = new URL(req.url ?? '/', origin);
    const pathname = requestUrl.pathname;
    if (pathname === LAUNCH_PATH) {
      launch(requestUrl.searchParams.get(LAUNCH_CODE_PARAM), res, headers);
      return;
    }
    if (pathname === '/' || pathname === '/index.html') {
      res.writeHead(200, rendererHeaders(RENDERER_TYPES['.html'])).end(indexHtml);
      return;
    }
    const found = resolveRendererPath(rendererDir, pathname);
    if (!found.ok) {
      res.writeHead(found.status, headers).end();
      return;
    }
    res.writeHead(200, rendererHeaders(found.type));
    createReadStream(found.file).pipe(res);
  }

  function launch(code: string | null, res: ServerResponse, headers: Record<string, string>) {
    const given = Buffer.from(code ?? '', 'base64url');
    if (!launchCode || given.length !== launchCode.length || !timingSafeEqual(given, launchCode)) {
      log.warn('refused a launch link', { used: launchCode === null });
      res
        .writeHead(launchCode ? 403 : 410, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' })
        .end(
          launchCode
            ? 'This is not the launch link browser mode printed.\n'
            : `${ERROR_SENTENCES.LAUNCH_LINK_USED} (LAUNCH_LINK_USED)\n`,
        );
      return;
    }
    launchCode = null;
    log.info('launch link used');
    res
      .writeHead(303, { ...headers, Location: `/#${SECRET_FRAGMENT_KEY}=${encodeURIComponent(secret)}` })
      .end();
    options.onLaunched?.();
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 2 * 1024 * 1024,
  });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname !== WS_PATH || req.headers.host !== host || req.headers.origin !== origin) {
      log.warn('refused a WebSocket from a foreign origin', { origin: req.headers.origin ?? null });
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req.headers.origin ?? null));
  });

  const sockets = new Set<WebSocket>();
  function onConnection(ws: WebSocket, wsOrigin: string | null) {
    let authenticated = false;
    const send = (message: ServerMessage) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(message));
    const helloTimer = setTimeout(() => !authenticated && ws.close(4401, 'hello expected'), 5_000);
    let unsubscribe = () => {};
    ws.on('message', async (data, isBinary) => {
      let raw: unknown;
      let message;
      try {
        if (isBinary) throw new Error('binary');
        raw = JSON.parse(data.toString());
        message = clientMessage.parse(raw);
      } catch {
        const id = (raw as { id?: unknown } | undefined)?.id;
        if (authenticated && typeof id === 'number') {
          // A call we cannot read still gets its answer, so the page's promise settles.
          send({ t: 'result', id, envelope: { ok: false, error: new MkmError('VALIDATION').toShape() } });
          return;
        }
        send({ t: 'refused', code: 'VALIDATION', message: 'Malformed message.' });
        if (!authenticated) ws.close(4400, 'malformed');
        return;
      }
      if (message.t === 'hello') {
        const given = Buffer.from(message.secret);
        if (given.length !== secretBytes.length || !timingSafeEqual(given, secretBytes)) {
          log.warn('refused a WebSocket with a wrong secret');
          send({ t: 'refused', code: 'UNAUTHENTICATED', message: 'Wrong secret.' });
          ws.close(4401, 'unauthenticated');
          return;
        }
        authenticated = true;
        clearTimeout(helloTimer);
        sockets.add(ws);
        unsubscribe = app.events.subscribe((name, payload) => send({ t: 'event', name, payload }));
        send({ t: 'ready' });
        return;
      }
      if (!authenticated) {
        send({ t: 'refused', code: 'UNAUTHENTICATED', message: 'Say hello first.' });
        ws.close(4401, 'unauthenticated');
        return;
      }
      const envelope = await app.registry.dispatch(message.channel, message.request, {
        transport: 'websocket',
        origin: wsOrigin,
        authenticated,
      });
      send({ t: 'result', id: message.id, envelope });
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      sockets.delete(ws);
      unsubscribe();
    });
    ws.on('error', (error) => log.warn('WebSocket error', { error }));
  }

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolvePromise());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  host = `127.0.0.1:${port}`;
  log.info('browser mode listening', { origin });

  return {
    url: `${origin}${LAUNCH_PATH}?${LAUNCH_CODE_PARAM}=${firstLaunchCode.toString('base64url')}`,
    origin,
    port,
    app,
    close: async () => {
      for (const ws of sockets) ws.terminate();
      wss.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      // Keep-alive sockets from the page would otherwise hold close() open.
      server.closeAllConnections();
      await closed;
      await app.close();
    },
  };
}
