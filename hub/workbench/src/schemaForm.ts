// Forms built from the record models: the hub's OpenAPI document (generated from the
// same pydantic models that validate a record) gives each field, its Chinese name (the
// first words of its description), whether it is required, its choices (party ids, the
// worker's current matter catalogue, certified officers) and its shape. The rules no
// schema can say are checked by the hub itself as the officer types
// (POST /v1/validate/{kind}); its errors come back with field paths, placed here.

export type FieldKind =
  | "text" | "textarea" | "select" | "multiselect" | "bool" | "number" | "datetime"
  | "list" | "object" | "objects";

export interface Field {
  key: string; // the property name
  path: string; // where it is in the record: "referral.evidence", "officers"
  label: string; // its Chinese name
  hint: string; // the rest of its description
  kind: FieldKind;
  required: boolean;
  options: string[];
  children: Field[]; // an object's fields, or the fields of each item of "objects"
  pattern?: string;
  maxLength?: number;
  minItems?: number;
}

type Schema = Record<string, any>; // a JSON schema as the document gives it
type Doc = { components: { schemas: Record<string, Schema> } };

/** The schema a $ref names, or the schema itself. */
function deref(doc: Doc, schema: Schema): Schema {
  const ref: string | undefined = schema.$ref;
  return ref ? { ...doc.components.schemas[ref.split("/").pop() as string], ...without(schema, "$ref") } : schema;
}

function without(schema: Schema, key: string): Schema {
  const { [key]: _, ...rest } = schema;
  return rest;
}

/** A property's schema with an optional null (anyOf [X, null]) taken as X. */
function unwrap(doc: Doc, schema: Schema): Schema {
  if (Array.isArray(schema.anyOf)) {
    const kinds = schema.anyOf.filter((s: Schema) => s.type !== "null");
    if (kinds.length === 1) return { ...deref(doc, kinds[0]), description: schema.description ?? kinds[0].description };
    return { ...schema, type: "string" }; // several shapes (an amount: number or text): typed as text
  }
  return deref(doc, schema);
}

/** A field's name in the workbench's language: its Chinese, or the English half of its
 * description with a capital. */
export const nameOf = (field: Field, lang: "zh" | "en"): string =>
  lang === "en" && field.hint ? field.hint.charAt(0).toUpperCase() + field.hint.slice(1) : field.label;

/** "涉嫌罪名 suspected offence" → ["涉嫌罪名", "suspected offence"]. */
export function labelOf(description: string | undefined, key: string): [string, string] {
  const text = (description ?? "").trim();
  const match = /^([^\x00-\x7f]+)\s*(.*)$/s.exec(text);
  return match ? [(match[1] ?? key).trim(), match[2] ?? ""] : [key, text];
}

function kindOf(doc: Doc, schema: Schema): FieldKind {
  if (schema.type === "boolean") return "bool";
  if (schema.type === "integer" || schema.type === "number") return "number";
  if (schema.type === "object" || schema.properties) return "object";
  if (schema.type === "array") {
    const items = deref(doc, schema.items ?? {});
    if (items.enum) return "multiselect";
    if (items.type === "object" || items.properties) return "objects";
    return "list";
  }
  if (schema.enum) return "select";
  if (schema.format === "date-time") return "datetime";
  if ((schema.maxLength ?? 0) > 200) return "textarea";
  return "text";
}

/** The fields of the component named name, leaving out those in hidden (paths). */
export function fieldsOf(doc: Doc, name: string, hidden: Set<string> = new Set()): Field[] {
  return fieldsOfSchema(doc, doc.components.schemas[name] ?? {}, "", hidden);
}

function fieldsOfSchema(doc: Doc, schema: Schema, prefix: string, hidden: Set<string>): Field[] {
  const required = new Set<string>(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .map(([key, raw]) => {
      const path = prefix ? `${prefix}.${key}` : key;
      if (hidden.has(path)) return null;
      const property = unwrap(doc, raw as Schema);
      const [label, hint] = labelOf((raw as Schema).description ?? property.description, key);
      const kind = kindOf(doc, property);
      const items = kind === "objects" ? deref(doc, property.items) : null;
      const choices = kind === "multiselect" ? deref(doc, property.items).enum : property.enum;
      const field: Field = {
        key, path, label, hint, kind,
        required: required.has(key),
        options: choices ?? [],
        children: kind === "object" ? fieldsOfSchema(doc, property, path, hidden)
          : items ? fieldsOfSchema(doc, items, "", hidden) : [],
        pattern: property.pattern,
        maxLength: property.maxLength,
        minItems: property.minItems,
      };
      return field;
    })
    .filter((f): f is Field => f !== null);
}

/** The value a new field starts with. */
export function emptyOf(field: Field): unknown {
  switch (field.kind) {
    case "bool": return false;
    case "number": return undefined;
    case "list": return field.required ? [""] : [];
    case "multiselect": return [];
    case "objects": // as many as it needs at least (two officers on a case)
      return Array.from({ length: field.required ? Math.max(1, field.minItems ?? 1) : 0 },
        () => emptyRecord(field.children));
    case "object": return emptyRecord(field.children);
    default: return "";
  }
}

export function emptyRecord(fields: Field[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((f) => [f.key, emptyOf(f)]));
}

// whether a value says something (false, [] and {} are what an untouched field holds)
const meaningful = (value: unknown): boolean =>
  value !== undefined && value !== false && !(Array.isArray(value) && value.length === 0) &&
  !(typeof value === "object" && value !== null && !Array.isArray(value) && !Object.values(value).some(meaningful));

const blank = (value: unknown) =>
  value === undefined || value === null || (typeof value === "string" && value.trim() === "");

/** The record the form says: blanks left out (an optional object nobody filled in too),
 * texts trimmed, list entries left blank dropped. */
export function bodyOf(fields: Field[], values: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of fields) {
    const value = pruned(field, values[field.key]);
    if (value !== undefined) body[field.key] = value;
  }
  return body;
}

function pruned(field: Field, value: unknown): unknown {
  switch (field.kind) {
    case "object": {
      const inner = bodyOf(field.children, (value ?? {}) as Record<string, unknown>);
      const filled = Object.values(inner).some(meaningful);
      return filled || field.required ? inner : undefined;
    }
    case "objects": {
      const items = ((value ?? []) as Record<string, unknown>[])
        .map((item) => bodyOf(field.children, item))
        .filter((item) => Object.keys(item).length > 0);
      return items.length || field.required ? items : undefined;
    }
    case "list": {
      const items = ((value ?? []) as unknown[]).filter((v) => !blank(v)).map((v) => String(v).trim());
      return items.length || field.required ? items : undefined;
    }
    case "multiselect": {
      const items = (value ?? []) as unknown[];
      return items.length || field.required ? items : undefined;
    }
    case "bool": return Boolean(value);
    case "number": return blank(value) ? undefined : Number(value);
    default: return blank(value) ? undefined : String(value).trim();
  }
}

export interface Placed {
  byPath: Record<string, string>; // a field's path → its messages, in Chinese
  unplaced: string[]; // rules of the record as a whole, or of fields the form does not show
}

/** The hub's field errors placed on the form's fields: "referral.evidence[1]" goes to
 * the field referral.evidence as "第2项：…"; "officers[0].certificate_no" to officers. */
export function placeErrors(
  fields: Field[],
  errors: { path: string; message_zh: string }[],
  item: (n: number) => string = (n) => `第${n}项：`,
): Placed {
  const paths = new Set<string>();
  const walk = (list: Field[]) => list.forEach((f) => { paths.add(f.path); if (f.kind === "object") walk(f.children); });
  walk(fields);
  const placed: Placed = { byPath: {}, unplaced: [] };
  for (const error of errors) {
    const entry = /^(.*?)\[(\d+)\](.*)$/.exec(error.path);
    const path = entry ? entry[1] : error.path;
    const message = entry ? `${item(Number(entry[2]) + 1)}${error.message_zh}` : error.message_zh;
    let target = path;
    while (target && !paths.has(target)) target = target.includes(".") ? target.slice(0, target.lastIndexOf(".")) : "";
    if (target) placed.byPath[target] = placed.byPath[target] ? `${placed.byPath[target]}；${message}` : message;
    else placed.unplaced.push(error.path ? `${error.path}：${message}` : message);
  }
  return placed;
}
