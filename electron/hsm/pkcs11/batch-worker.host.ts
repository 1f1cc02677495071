import { parentPort, workerData } from 'node:worker_threads';
import { pkcs11js as P, type Handle, type PKCS11 } from './pkcs11.host';
import type { BatchPart, BatchPartResult, BatchWorkerData } from './batch-pool.host';

/**
 * A second thread of the HSM host for the AES share of large batches. It loads the same
 * library the host's main thread initialised (dlopen hands back the same module, so the login,
 * the key handles and session objects are shared: one PKCS#11 application), opens a session
 * of its own per part, and never calls C_Initialize or C_Finalize: the main thread owns the
 * module's life.
 */
const { libraryPath } = workerData as BatchWorkerData;
let pkcs11: PKCS11 | null = null;

function module(): PKCS11 {
  if (!pkcs11) {
    const m = new P.PKCS11();
    m.load(libraryPath);
    pkcs11 = m;
  }
  return pkcs11;
}

function run(part: BatchPart): BatchPartResult {
  const m = module();
  const data = Buffer.from(part.data.buffer, part.data.byteOffset, part.data.byteLength);
  const ivs = Buffer.from(part.ivs.buffer, part.ivs.byteOffset, part.ivs.byteLength);
  const key = Buffer.from(part.key) as Handle;
  const slot = Buffer.from(part.slot) as Handle;
  const count = part.lengths.length;
  const lengths = new Uint32Array(count);
  // CBC-PAD adds at most one block per item.
  const out = Buffer.allocUnsafe(data.length + 16 * count);
  const mech = { mechanism: part.pad ? P.CKM_AES_CBC_PAD : P.CKM_AES_CBC, parameter: ivs.subarray(0, 16) };
  const session = m.C_OpenSession(slot, P.CKF_SERIAL_SESSION);
  let used = 0;
  try {
    for (let i = 0, at = 0; i < count; i++) {
      const len = part.lengths[i]!;
      mech.parameter = ivs.subarray(i * 16, i * 16 + 16);
      m.C_EncryptInit(session, mech, key);
      const ct =
        len === 0
          ? m.C_EncryptFinal(session, out.subarray(used))
          : m.C_Encrypt(session, data.subarray(at, at + len), out.subarray(used));
      at += len;
      lengths[i] = ct.length;
      used += ct.length;
    }
  } finally {
    try {
      m.C_CloseSession(session);
    } catch {
      // A session the library already closed (token removed) is gone either way.
    }
  }
  return { id: part.id, ok: true, data: new Uint8Array(out.buffer, out.byteOffset, used), lengths };
}

parentPort!.on('message', (part: BatchPart) => {
  let reply: BatchPartResult;
  try {
    reply = run(part);
  } catch (error) {
    const e = error as { message?: unknown; code?: unknown; method?: unknown; name?: unknown };
    reply = {
      id: part.id,
      ok: false,
      error: {
        message: String(e?.message ?? error),
        ...(typeof e?.name === 'string' ? { name: e.name } : {}),
        ...(typeof e?.code === 'number' ? { code: e.code } : {}),
        ...(typeof e?.method === 'string' ? { method: e.method } : {}),
      },
    };
  }
  parentPort!.postMessage(reply, reply.ok ? [reply.data.buffer as ArrayBuffer] : []);
});
