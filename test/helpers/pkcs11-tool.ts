/** `pkcs11-tool --list-objects` (`-O`) output parsed into one record per object. */
export function parsePkcs11ToolObjects(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const line of text.split('\n')) {
    if (/^\S.*Object;/.test(line)) out.push({ kind: line.trim() });
    const m = /^\s+([A-Za-z ]+):\s+(.*)$/.exec(line);
    if (m && out.length) out[out.length - 1]![m[1]!.trim()] = m[2]!.trim();
  }
  return out;
}
