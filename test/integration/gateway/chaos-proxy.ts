import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import { ensureTlsMaterial } from '../../../electron/gateway/sandbox/tls.nodejs';

/**
 * A loopback proxy in front of the real sandbox that misbehaves on demand. It terminates TLS with
 * the sandbox's own certificate (so the profile's pin holds, as it would for a load balancer
 * that holds the key) and passes everything through, except the next request or connection a
 * fault is armed for:
 * - `stall-handshake`: accepts TCP and never says a word of TLS;
 * - `drip-handshake`: starts a TLS record and then sends one byte of it every `dripMs`, so the
 *   peer is never idle but the handshake never ends;
 * - `slow-headers`: never answers the request at all;
 * - `slow-body`: the sandbox's real answer, its body one byte every `dripMs`;
 * - `reset-mid-body`: the real headers, half the body, then a TCP RST;
 * - `huge-body`: 200 and a chunked JSON body of `hugeBytes` (64 MiB), generated as it is sent,
 *   respecting backpressure, never held whole;
 * - `huge-declared`: the same body, announced by its Content-Length.
 * Each fault records what the client did: whether it closed the connection before the proxy
 * was done, and how many body bytes went out.
 */

export type ConnectionFault = 'stall-handshake' | 'drip-handshake';
export type RequestFault = 'slow-headers' | 'slow-body' | 'reset-mid-body' | 'huge-body' | 'huge-declared';

export interface FaultRecord {
  fault: ConnectionFault | RequestFault;
  path: string | null;
  /** The client closed the connection before the proxy finished (or, for stalls, ever). */
  clientClosedEarly: boolean;
  /** Body bytes the proxy wrote. */
  bodyBytesSent: number;
}

export interface ChaosProxy {
  url: string;
  pin: string;
  /** The next `times` connections get this fault. */
  armConnection(fault: ConnectionFault, times?: number): void;
  /** The next `times` requests whose path starts with `pathPrefix` get this fault. */
  armRequest(fault: RequestFault, pathPrefix: string, times?: number): void;
  disarm(): void;
  /** One record per fault served, settled once the client's connection is gone. */
  records: FaultRecord[];
  /** Resolves when every fault served so far has seen its connection close. */
  settled(): Promise<void>;
  /** Requests passed through untouched. */
  passed: string[];
  close(): Promise<void>;
}

export interface ChaosOptions {
  dripMs?: number;
  hugeBytes?: number;
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

export async function startChaosProxy(
  target: { port: number; dataDir: string },
  options: ChaosOptions = {},
): Promise<ChaosProxy> {
  const dripMs = options.dripMs ?? 100;
  const hugeBytes = options.hugeBytes ?? 64 * 1024 * 1024;
  const tls = await ensureTlsMaterial(target.dataDir);
  let connectionFault: { fault: ConnectionFault; times: number } | null = null;
  let requestFault: { fault: RequestFault; prefix: string; times: number } | null = null;
  const open = new Set<Socket>();
  /** The TCP sockets by client port, to reset the one under a TLS socket. */
  const raw = new Map<number, Socket>();
  const pending: Promise<void>[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const watch = (socket: Socket, record: FaultRecord, done: () => boolean) => {
    proxy.records.push(record);
    pending.push(
      new Promise<void>((resolve) =>
        socket.once('close', () => {
          record.clientClosedEarly = !done();
          resolve();
        }),
      ),
    );
  };

  const every = (fn: () => boolean) => {
    const timer = setInterval(() => {
      if (!fn()) {
        clearInterval(timer);
        timers.delete(timer);
      }
    }, dripMs);
    timers.add(timer);
  };

  /** Fetches the sandbox's real answer for this request. */
  const upstream = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
      const out = https.request({
        host: '127.0.0.1',
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: `127.0.0.1:${target.port}` },
        rejectUnauthorized: false,
      });
      out.on('response', (answer) => {
        void readAll(answer).then(
          (raw) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: raw }),
          reject,
        );
      });
      out.on('error', reject);
      out.end(body);
    });

  const serveFault = async (fault: RequestFault, req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const socket = req.socket;
    const record: FaultRecord = { fault, path: req.url ?? null, clientClosedEarly: false, bodyBytesSent: 0 };
    let finished = false;
    watch(socket, record, () => finished);
    if (fault === 'slow-headers') return; // The answer never comes.
    if (fault === 'huge-body' || fault === 'huge-declared') {
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(fault === 'huge-declared' ? { 'content-length': String(hugeBytes) } : {}),
      });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      chunk[0] = 0x5b; // '[': a JSON array of blanks that would never close
      const pump = () => {
        while (record.bodyBytesSent < hugeBytes && !socket.destroyed) {
          const slice = chunk.subarray(0, Math.min(chunk.length, hugeBytes - record.bodyBytesSent));
          record.bodyBytesSent += slice.length;
          if (!res.write(slice)) {
            res.once('drain', pump);
            return;
          }
        }
        if (record.bodyBytesSent >= hugeBytes && !socket.destroyed) {
          finished = true;
          res.end();
        }
      };
      pump();
      return;
    }
    const real = await upstream(req, body);
    const headers = { ...real.headers, 'content-length': String(real.body.length) };
    delete headers['transfer-encoding'];
    res.writeHead(real.status, headers);
    if (fault === 'reset-mid-body') {
      const half = real.body.subarray(0, Math.floor(real.body.length / 2));
      res.write(half, () => {
        record.bodyBytesSent = half.length;
        finished = true;
        // The TCP socket under the TLS one: a reset, not a TLS close_notify.
        raw.get(socket.remotePort ?? -1)?.resetAndDestroy();
      });
      return;
    }
    // slow-body
    every(() => {
      if (socket.destroyed) return false;
      if (record.bodyBytesSent >= real.body.length) {
        finished = true;
        res.end();
        return false;
      }
      res.write(real.body.subarray(record.bodyBytesSent, record.bodyBytesSent + 1));
      record.bodyBytesSent += 1;
      return true;
    });
  };

  const server = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    void (async () => {
      const body = await readAll(req);
      const path = req.url ?? '/';
      const armed = requestFault;
      if (armed && armed.times > 0 && path.startsWith(armed.prefix)) {
        armed.times -= 1;
        await serveFault(armed.fault, req, res, body);
        return;
      }
      proxy.passed.push(path);
      try {
        const real = await upstream(req, body);
        const headers = { ...real.headers, 'content-length': String(real.body.length) };
        delete headers['transfer-encoding'];
        res.writeHead(real.status, headers);
        res.end(real.body);
      } catch {
        res.writeHead(502);
        res.end();
      }
    })().catch(() => req.socket.destroy());
  });

  const front = net.createServer((socket) => {
    open.add(socket);
    const port = socket.remotePort ?? -1;
    raw.set(port, socket);
    socket.on('close', () => {
      open.delete(socket);
      raw.delete(port);
    });
    socket.on('error', () => undefined);
    const armed = connectionFault;
    if (armed && armed.times > 0) {
      armed.times -= 1;
      const record: FaultRecord = {
        fault: armed.fault,
        path: null,
        clientClosedEarly: false,
        bodyBytesSent: 0,
      };
      watch(socket, record, () => false);
      // Read (and drop) what the client says, so its hang-up is seen.
      socket.resume();
      if (armed.fault === 'drip-handshake') {
        // A TLS handshake record header announcing 16 KiB, then its body one byte at a time.
        socket.write(Buffer.from([0x16, 0x03, 0x03, 0x40, 0x00]));
        every(() => {
          if (socket.destroyed) return false;
          socket.write(Buffer.from([0x00]));
          record.bodyBytesSent += 1;
          return true;
        });
      }
      return;
    }
    server.emit('connection', socket);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const address = front.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const proxy: ChaosProxy = {
    url: `https://127.0.0.1:${port}`,
    pin: tls.pin,
    armConnection(fault, times = 1) {
      connectionFault = { fault, times };
    },
    armRequest(fault, pathPrefix, times = 1) {
      requestFault = { fault, prefix: pathPrefix, times };
    },
    disarm() {
      connectionFault = null;
      requestFault = null;
    },
    records: [],
    settled: async () => {
      await Promise.all(pending);
    },
    passed: [],
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      server.close();
    },
  };
  return proxy;
}
