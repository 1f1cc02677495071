import { describe, expect, it } from 'vitest';
import { exportContents, exportedEntries } from '../../../renderer/src/audit/auditFormat.dom';

describe('what an audit export holds, read from the export', () => {
  it('counts the JSON array and the CSV records after the header, a quoted line break inside one', () => {
    expect(exportedEntries('json', '[\n  {"seq": 1},\n  {"seq": 2}\n]\n')).toBe(2);
    expect(exportedEntries('json', '[]\n')).toBe(0);
    expect(exportedEntries('json', '{"not":"a list"}')).toBeNull();
    const csv = 'seq,label\r\n1,plain\r\n2,"two\r\nlines"\r\n3,"a ""quote"""\r\n';
    expect(exportedEntries('csv', csv)).toBe(3);
    expect(exportedEntries('csv', 'seq,label\r\n')).toBe(0);
  });

  it('says count, format and size', () => {
    expect(exportContents('csv', 'seq\r\n1\r\n')).toBe('1 entry, CSV, 8 bytes');
    expect(exportContents('json', '[{"a":"é"},{}]')).toBe('2 entries, JSON, 15 bytes');
  });
});
