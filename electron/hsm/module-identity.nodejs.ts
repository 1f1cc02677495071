import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { MkmError } from '../../shared/errors.std';

/**
 * What a PKCS#11 library file really is before it is loaded: the path with every symlink
 * resolved (what the host then dlopen()s, so a link swapped later changes nothing) and the
 * SHA-256 of its bytes, for the audit entry of the load.
 */
export interface LibraryIdentity {
  realPath: string;
  sha256: string;
  bytes: number;
}

export async function identifyLibrary(path: string): Promise<LibraryIdentity> {
  let realPath: string;
  try {
    realPath = await realpath(path);
  } catch {
    throw new MkmError('MODULE_NOT_FOUND', `No file at ${path}.`, { path });
  }
  const info = await stat(realPath);
  if (!info.isFile()) throw new MkmError('MODULE_INVALID', `${realPath} is not a file.`, { path: realPath });
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(realPath)) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (error) {
    throw new MkmError('IO_ERROR', `The PKCS#11 library ${realPath} could not be read.`, {
      path: realPath,
      reason: (error as { code?: string }).code ?? 'unknown',
    });
  }
  return { realPath, sha256: hash.digest('hex'), bytes };
}
