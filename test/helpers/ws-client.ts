import WebSocket from 'ws';

/** A raw client of browser mode's socket, to act as the page (or as an attacker). */
export interface RawClient {
  ws: WebSocket;
  call(
    channel: unknown,
    request?: unknown,
  ): Promise<{ ok: boolean; result?: unknown; error?: { code: string; message: string } }>;
  close(): void;
}

export function openSocket(origin: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(origin.replace(/^http/, 'ws') + '/ipc', {
      headers: { Origin: origin, ...headers },
    });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

export async function connect(origin: string, secret: string): Promise<RawClient> {
  const ws = await openSocket(origin);
  let nextId = 1;
  const pending = new Map<number, (envelope: never) => void>();
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.t === 'ready') resolve();
      else if (message.t === 'refused') reject(new Error(message.code));
      else if (message.t === 'result') pending.get(message.id)?.(message.envelope as never);
    });
    ws.send(JSON.stringify({ t: 'hello', secret }));
  });
  return {
    ws,
    call: (channel, request) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        ws.send(JSON.stringify({ t: 'call', id, channel, request }));
      }),
    close: () => ws.close(),
  };
}

/** Waits for the server to close the socket; resolves with the close code. */
export function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}
