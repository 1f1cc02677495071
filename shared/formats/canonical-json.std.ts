/**
 * Canonical JSON for signatures: the bytes a signer signs and a verifier recomputes must not
 * depend on how the file was pretty-printed or in which order an editor wrote the members.
 *
 * The rules are those of RFC 8785 (JCS) for the values an exchange package holds: object members
 * sorted by their names' UTF-16 code units, no whitespace, strings and numbers as
 * `JSON.stringify` writes them (which is what JCS specifies for both). A member whose value is
 * `undefined` is left out, as JSON itself does. Anything JSON cannot carry faithfully (NaN,
 * Infinity, a bigint, a function, a symbol, a cyclic or non-plain object) is refused rather than
 * coerced, since a silent coercion would let two different values sign the same.
 */
export function canonicalJson(value: unknown): string {
  return write(value, new Set());
}

function write(value: unknown, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity');
      // JSON.stringify writes -0 as 0, as JCS does.
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
  const obj = value as object;
  if (seen.has(obj)) throw new TypeError('canonical JSON cannot hold a cycle');
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      return `[${obj.map((v) => (v === undefined ? 'null' : write(v, seen))).join(',')}]`;
    }
    const proto = Object.getPrototypeOf(obj) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError('canonical JSON holds plain objects only');
    }
    const record = obj as Record<string, unknown>;
    // Default sort compares UTF-16 code units, exactly the JCS order.
    const names = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${names.map((k) => `${JSON.stringify(k)}:${write(record[k], seen)}`).join(',')}}`;
  } finally {
    seen.delete(obj);
  }
}
