import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * tpm2-pkcs11 on a software TPM, all started here and stopped by `stop()`:
 * `swtpm` on 127.0.0.1 (free ports), a private D-Bus session bus (`dbus-daemon` with its own
 * config in the temp dir), `tpm2-abrmd` on that bus as the resource manager, and a tpm2-pkcs11
 * store (`tpm2_ptool init` + `addtoken`) in the temp dir. The resource manager is needed because
 * `tpm2_ptool` loads more objects than a TPM holds at once (swtpm answers "out of memory for
 * object contexts" to the direct swtpm TCTI).
 *
 *   const tpm = await startTpm2Token();      // sets TPM2_PKCS11_* and the bus in process.env
 *   await svc.loadModule({ path: tpm.modulePath });
 *   await svc.login({ slotId: tpm.slotId, pin: tpm.userPin });
 *   ...
 *   await tpm.stop();
 */
export const TPM2_MODULE_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/libtpm2_pkcs11.so.1',
  '/usr/lib/aarch64-linux-gnu/libtpm2_pkcs11.so.1',
  '/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so',
];
const TABRMD_TCTI = [
  '/usr/lib/x86_64-linux-gnu/libtss2-tcti-tabrmd.so.0',
  '/usr/lib/aarch64-linux-gnu/libtss2-tcti-tabrmd.so.0',
];

export interface Tpm2Token {
  modulePath: string;
  /** process.env plus the TCTI, store and bus: give it to child processes (mkm, pkcs11-tool). */
  env: NodeJS.ProcessEnv;
  slotId: number;
  label: string;
  userPin: string;
  soPin: string;
  dir: string;
  stop(): Promise<void>;
}

const run = promisify(execFile);

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
}

/** Why the tpm2 suite cannot run here (the Debian package to install), or null when it can. */
export function tpm2Unavailable(): string | null {
  const missing: string[] = [];
  if (!TPM2_MODULE_CANDIDATES.some((p) => existsSync(p))) missing.push('libtpm2-pkcs11-1');
  if (!onPath('tpm2_ptool')) missing.push('libtpm2-pkcs11-tools');
  if (!onPath('swtpm')) missing.push('swtpm');
  if (!onPath('tpm2-abrmd') && !existsSync('/usr/sbin/tpm2-abrmd')) missing.push('tpm2-abrmd');
  if (!TABRMD_TCTI.some((p) => existsSync(p))) missing.push('libtss2-tcti-tabrmd0');
  if (!onPath('tpm2_getrandom')) missing.push('tpm2-tools');
  if (!onPath('dbus-daemon')) missing.push('dbus');
  return missing.length ? `not installed: ${missing.join(', ')}` : null;
}

function freePort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: got } = server.address() as { port: number };
      server.close(() => resolve(got));
    });
  });
}

/** The swtpm TCTI finds the control channel at the TPM port + 1: two free ports in a row. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    if (port >= 65535) continue;
    if (
      await freePort(port + 1).then(
        () => true,
        () => false,
      )
    )
      return port;
  }
  throw new Error('no two free consecutive ports on 127.0.0.1');
}

/**
 * Retries `probe` until it succeeds: each try is a real readiness check (the daemons say nothing
 * when they are ready); the pause between tries only keeps the check from spinning.
 */
async function until(what: string, probe: () => Promise<unknown>, tries = 300): Promise<void> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      await probe();
      return;
    } catch (error) {
      last = error;
      if ((error as { final?: boolean }).final) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${what} did not come up: ${String((last as Error)?.message ?? last)}`);
}

function listening(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve();
    });
    socket.on('error', reject);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function startTpm2Token(
  options: { label?: string; userPin?: string; soPin?: string } = {},
): Promise<Tpm2Token> {
  const modulePath = TPM2_MODULE_CANDIDATES.find((p) => existsSync(p));
  if (!modulePath) throw new Error('libtpm2_pkcs11.so.1 not found');
  const label = options.label ?? 'mkm-tpm';
  const userPin = options.userPin ?? '123456';
  const soPin = options.soPin ?? '87654321';
  const dir = mkdtempSync(join(tmpdir(), 'mkm-tpm2-'));
  const state = join(dir, 'state');
  const store = join(dir, 'store');
  mkdirSync(state);
  mkdirSync(store);
  const children: ChildProcess[] = [];
  const previous: Record<string, string | undefined> = {};

  const stop = async () => {
    for (const child of children.reverse()) await stopChild(child);
    for (const [k, v] of Object.entries(previous)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const port = await freePortPair();
    const ctrl = port + 1;
    const swtpm = spawn(
      'swtpm',
      [
        'socket',
        '--tpm2',
        '--server',
        `type=tcp,port=${port},bindaddr=127.0.0.1`,
        '--ctrl',
        `type=tcp,port=${ctrl},bindaddr=127.0.0.1`,
        '--tpmstate',
        `dir=${state}`,
        '--flags',
        'startup-clear,not-need-init',
      ],
      { stdio: 'ignore' },
    );
    children.push(swtpm);
    await until('swtpm on 127.0.0.1', () => listening(port));

    const busSocket = join(dir, 'bus');
    const busConf = join(dir, 'bus.conf');
    writeFileSync(
      busConf,
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${busSocket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/><allow user="*"/></policy></busconfig>
`,
    );
    const bus = spawn('dbus-daemon', [`--config-file=${busConf}`, '--nofork', '--nopidfile'], {
      stdio: 'ignore',
    });
    children.push(bus);
    const busAddress = `unix:path=${busSocket}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DBUS_SESSION_BUS_ADDRESS: busAddress,
      TPM2TOOLS_TCTI: 'tabrmd:bus_type=session',
      TPM2_PKCS11_TCTI: 'tabrmd:bus_type=session',
      TPM2_PKCS11_STORE: store,
      // The library prints every refused template on stderr otherwise.
      TPM2_PKCS11_LOG_LEVEL: '0',
      TSS2_LOG: 'all+NONE',
    };
    await until('the private D-Bus', () =>
      run(
        'dbus-send',
        [
          '--bus=' + busAddress,
          '--print-reply',
          '--dest=org.freedesktop.DBus',
          '/',
          'org.freedesktop.DBus.GetId',
        ],
        { env },
      ),
    );
    const abrmd = spawn(
      onPath('tpm2-abrmd') ? 'tpm2-abrmd' : '/usr/sbin/tpm2-abrmd',
      [
        '--session',
        ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
        `--tcti=swtpm:host=127.0.0.1,port=${port}`,
        '--flush-all',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env },
    );
    children.push(abrmd);
    let abrmdSaid = '';
    abrmd.stderr!.on('data', (chunk: Buffer) => (abrmdSaid += chunk.toString()));
    await until('tpm2-abrmd on swtpm', async () => {
      if (abrmd.exitCode !== null)
        throw Object.assign(new Error(`tpm2-abrmd exited: ${abrmdSaid}`), { final: true });
      return run('tpm2_getrandom', ['4'], { env });
    });
    await run('tpm2_ptool', ['init', '--path', store], { env });
    await run(
      'tpm2_ptool',
      [
        'addtoken',
        '--pid=1',
        `--label=${label}`,
        `--sopin=${soPin}`,
        `--userpin=${userPin}`,
        '--path',
        store,
      ],
      { env },
    );
    for (const k of [
      'DBUS_SESSION_BUS_ADDRESS',
      'TPM2TOOLS_TCTI',
      'TPM2_PKCS11_TCTI',
      'TPM2_PKCS11_STORE',
      'TPM2_PKCS11_LOG_LEVEL',
      'TSS2_LOG',
    ]) {
      previous[k] = process.env[k];
      process.env[k] = env[k];
    }
    // tpm2-pkcs11 lists the token made by addtoken in slot 1, then an empty slot for the next.
    return { modulePath, env, slotId: 1, label, userPin, soPin, dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
