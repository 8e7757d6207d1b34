// The JSON Schemas of the OpenAPI document compiled by ajv (JSON Schema 2020-12, the dialect of
// OpenAPI 3.1), with ajv's first error turned into one readable fault message.
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import type { JsonSchema, SchemaName } from "./openapi.js";

/** The id the document's components are registered under ($refs are "#/components/schemas/NAME" within it). */
const DOC_ID = "rvisor-openapi";

export interface Validators {
  /** Why `value` does not match the schema, or null when it does. */
  problem(schema: SchemaName, value: unknown): string | null;
  /** The compiled validator of a schema (for tests that check responses). */
  validator(schema: SchemaName): ValidateFunction;
}

/** "/disks/0/path" → "disks[0].path"; the root is "body". */
function fieldOf(pointer: string): string {
  if (pointer === "") return "body";
  return pointer.slice(1).split("/").map((seg) => seg.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, seg) => /^\d+$/.test(seg) ? `${acc}[${seg}]` : acc === "" ? seg : `${acc}.${seg}`, "");
}

export function describeError(e: ErrorObject): string {
  const at = fieldOf(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "additionalProperties": return `${at === "body" ? "" : `${at}.`}${String(p.additionalProperty)}: unknown field`;
    case "required": return `${at === "body" ? "" : `${at}.`}${String(p.missingProperty)}: missing field`;
    case "enum": return `${at}: must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "const": return `${at}: must be ${JSON.stringify(p.allowedValue)}`;
    case "type": return `${at}: must be ${Array.isArray(p.type) ? p.type.join(" or ") : String(p.type)}`;
    default: return `${at}: ${e.message ?? e.keyword}`;
  }
}

/** Compiles the schemas of an OpenAPI 3.1 document's components. */
export function compileSchemas(doc: JsonSchema): Validators {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: false });
  // The document's own keywords are not JSON Schema: register "components" as a keyword so the
  // schemas under it are reachable by JSON pointer.
  ajv.addKeyword("components");
  const components = doc.components as { schemas: Record<string, JsonSchema> };
  ajv.addSchema({ $id: DOC_ID, components: { schemas: components.schemas } });
  const cache = new Map<SchemaName, ValidateFunction>();
  const validator = (name: SchemaName): ValidateFunction => {
    let v = cache.get(name);
    if (v === undefined) {
      v = ajv.getSchema(`${DOC_ID}#/components/schemas/${name}`);
      if (v === undefined) throw new Error(`no schema ${name} in the OpenAPI document`);
      cache.set(name, v);
    }
    return v;
  };
  return {
    validator,
    problem(name, value) {
      const v = validator(name);
      if (v(value)) return null;
      const first = v.errors?.[0];
      return first === undefined ? "invalid" : describeError(first);
    },
  };
}
