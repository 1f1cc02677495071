import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { SCHEMA } from '../../../electron/core/store.nodejs';

// openStore tells conf's ajv not to check the schema itself at every start (a CLI command pays
// for it): this test is where that check happens instead, on the schema as conf assembles it.
describe('the settings store schema', () => {
  it('is a valid JSON Schema 2020-12 document', () => {
    const ajv = new Ajv2020({ allErrors: true, useDefaults: true });
    const valid = ajv.validateSchema({ type: 'object', properties: SCHEMA });
    expect(ajv.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('would be refused if it were not one', () => {
    const ajv = new Ajv2020({ allErrors: true });
    const broken = { ...SCHEMA, settings: { ...(SCHEMA!.settings as object), type: 'no-such-type' } };
    expect(ajv.validateSchema({ type: 'object', properties: broken })).toBe(false);
  });
});
