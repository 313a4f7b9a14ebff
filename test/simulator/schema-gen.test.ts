// Unit tests of the sample generator behind tool arguments and structured output: values must validate against their schema.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sampleFromSchema } from '../../src/simulator/schema-gen.js';
import { createRng } from '../../src/simulator/util.js';

const validates = (schema: object, value: unknown) => z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]).safeParse(value);

const schemas: Record<string, object> = {
  nested: {
    type: 'object',
    properties: {
      id: { type: 'integer', minimum: 10, maximum: 12 },
      price: { type: 'number', exclusiveMinimum: 0, maximum: 5 },
      tags: { type: 'array', items: { type: 'string', minLength: 3, maxLength: 8 }, minItems: 2, maxItems: 3 },
      owner: { type: 'object', properties: { email: { type: 'string', format: 'email' }, active: { type: 'boolean' } }, required: ['email', 'active'] },
    },
    required: ['id', 'price', 'tags', 'owner'],
    additionalProperties: false,
  },
  refs: {
    type: 'object',
    properties: { a: { $ref: '#/$defs/color' }, b: { $ref: '#/$defs/point' } },
    required: ['a', 'b'],
    $defs: { color: { type: 'string', enum: ['red', 'green'] }, point: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } }, required: ['x', 'y'] } },
  },
  unions: {
    type: 'object',
    properties: { maybe: { anyOf: [{ type: 'null' }, { type: 'integer' }] }, kind: { const: 'fixed' }, nullable: { type: ['string', 'null'] } },
    required: ['maybe', 'kind', 'nullable'],
  },
  allOf: { allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { type: 'integer' } }, required: ['b'] }] },
};

describe('sampleFromSchema', () => {
  for (const [name, schema] of Object.entries(schemas)) {
    it(`produces values valid against the ${name} schema for many seeds`, () => {
      for (let seed = 0; seed < 50; seed++) {
        const value = sampleFromSchema(schema, createRng(seed));
        const r = validates(schema, value);
        expect(r.success, `${name} seed ${seed}: ${JSON.stringify(value)} ${r.error?.message ?? ''}`).toBe(true);
      }
    });
  }

  it("understands Gemini's upper-case OpenAPI types", () => {
    const value = sampleFromSchema({ type: 'OBJECT', properties: { n: { type: 'INTEGER' }, s: { type: 'STRING', enum: ['x', 'y'] }, l: { type: 'ARRAY', items: { type: 'BOOLEAN' } } } }, createRng(1)) as Record<string, unknown>;
    expect(Number.isInteger(value.n)).toBe(true);
    expect(['x', 'y']).toContain(value.s);
    expect(Array.isArray(value.l) && (value.l as unknown[]).every((b) => typeof b === 'boolean')).toBe(true);
  });

  it('is deterministic for a seed', () => {
    expect(sampleFromSchema(schemas.nested, createRng(9))).toEqual(sampleFromSchema(schemas.nested, createRng(9)));
  });
});
