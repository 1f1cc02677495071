import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { call, login, pinOf } from './client';

const ROOT = resolve(import.meta.dirname, '../../..');
const CLI = join(ROOT, 'electron/gateway/sandbox/cli.nodejs.ts');
const LINE = /^sandbox gateway listening on (https:\/\/127\.0\.0\.1:(\d+)) pin sha256:([0-9a-f]{64})$/;
const dir = mkdtempSync(join(tmpdir(), 'mkm-sb-cli-'));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function startCli(args: string[]): Promise<{ line: string; stderr: () => string }> {
  child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line; stderr: ${err}`)), 30_000);
    child!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolvePromise({ line: out.split('\n')[0]!, stderr: () => err });
      }
    });
    child!.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

function servedPin(port: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    // No trust decision here: the point is to read what the server presents and compare pins.
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      const version = socket.getProtocol();
      socket.end();
      if (version !== 'TLSv1.2' && version !== 'TLSv1.3') reject(new Error(`protocol ${version}`));
      else resolvePromise(pinOf(raw));
    });
    socket.on('error', reject);
  });
}

describe('npm run sandbox (cli.nodejs.ts)', () => {
  it('prints one line with its URL and a pin that matches the served certificate; demo:demo by default', async () => {
    const { line, stderr } = await startCli(['--port', '0', '--data-dir', dir, '--set-ttl', '60']);
    const m = LINE.exec(line);
    expect(m, line).not.toBeNull();
    const [, url, port, pin] = m!;
    expect(await servedPin(Number(port))).toBe(pin);
    expect(stderr()).toMatch(/demo.*demo/);
    // Its operator's read-out for a merchant confirming a first pin (issue 15 point 5).
    expect(stderr()).toMatch(
      /key fingerprints for a first pin: encryption sha256:([0-9a-f]{4} ){15}[0-9a-f]{4}; signing sha256:/,
    );

    const caPem = readFileSync(join(dir, 'tls-cert.pem'), 'utf8');
    const target = { url: url!, caPem, pin: pin! };
    const token = await login(target, 'demo', 'demo');
    const key = await call(target, 'GET', '/v1/encryption/public_key', { token });
    expect(key.status).toBe(200);

    // A TLS 1.1 client is turned away.
    await expect(
      new Promise((res, rej) => {
        const s = tls.connect(
          {
            host: '127.0.0.1',
            port: Number(port),
            rejectUnauthorized: false,
            maxVersion: 'TLSv1.1',
            minVersion: 'TLSv1',
          },
          () => res(s.getProtocol()),
        );
        s.on('error', rej);
      }),
    ).rejects.toThrow();

    const exited = new Promise<number | null>((res) => child!.once('exit', (code) => res(code)));
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  // The full set of argument errors is unit-tested (test/unit/sandbox/args.test.ts); these
  // prove the process wiring: one line on stderr, nothing on stdout, non-zero exit.
  it.each([
    [['--port', 'eighty', '--data-dir', dir], /--port needs a whole number/],
    [['--port', '0', '--data-dir', dir, '--user', 'nocolon'], /--user needs NAME:PASSWORD/],
  ])('refuses %j with one line and a non-zero exit', (args, message) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });
});
