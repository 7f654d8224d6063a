// An object as form fields and back: each field is edited as text, and read back as the type the field
// had (a list is comma separated). Pure, so the form's round trip is tested without a browser.

import type { UiKind } from "./kinds.js";

export type FieldType = "string" | "number" | "boolean" | "list" | "json";

export interface FormField {
  name: string;
  type: FieldType;
  text: string;
}

function typeOf(value: unknown): FieldType {
  if (typeof value === "number") return "number";
  if (typeof value === "boolean") return "boolean";
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return "list";
  if (typeof value === "string" || value === undefined || value === null) return "string";
  return "json";
}

function textOf(value: unknown, type: FieldType): string {
  switch (type) {
    case "list":
      return (value as string[]).join(", ");
    case "json":
      return JSON.stringify(value);
    case "string":
      return value === undefined || value === null ? "" : String(value);
    default:
      return String(value);
  }
}

/**
 * The fields to edit: the kind's template's fields first (in its order), then any other field the object
 * has. `key` is netmaster's own and never sent back; fields ending in "Oper" are not the object's config.
 */
export function formFields(kind: UiKind, obj: Record<string, unknown> | undefined): FormField[] {
  const source = obj ?? kind.template;
  const names = [...Object.keys(kind.template), ...Object.keys(source).filter((n) => !(n in kind.template))].filter((n) => n !== "key");
  return names.map((name) => {
    const value = name in source ? source[name] : kind.template[name];
    const type = typeOf(kind.template[name] ?? value);
    return { name, type, text: textOf(value, type) };
  });
}

/** What a field's text becomes; a number that is not one is a thrown Error naming the field. */
export function fieldValue(field: FormField): unknown {
  const t = field.text.trim();
  switch (field.type) {
    case "number": {
      if (t === "") return 0;
      const n = Number(t);
      if (!Number.isFinite(n)) throw new Error(`Field ${field.name}: ${JSON.stringify(field.text)} is not a number`);
      return n;
    }
    case "boolean":
      return t === "true";
    case "list":
      return t === "" ? [] : t.split(",").map((s) => s.trim()).filter((s) => s !== "");
    case "json":
      try {
        return t === "" ? null : (JSON.parse(t) as unknown);
      } catch {
        throw new Error(`Field ${field.name}: not valid JSON`);
      }
    default:
      return field.text;
  }
}

/** The body to send: empty strings and empty lists left out, so netmaster's defaults apply to them. */
export function formBody(fields: readonly FormField[]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of fields) {
    const v = fieldValue(f);
    if (v === "" || (Array.isArray(v) && v.length === 0)) continue;
    body[f.name] = v;
  }
  return body;
}

/** The object's key (`tenant:name`), from its key fields; missing ones are an Error naming them. */
export function objectKeyOf(kind: UiKind, body: Record<string, unknown>): string {
  const missing = kind.keyFields.filter((f) => typeof body[f] !== "string" || body[f] === "");
  if (missing.length > 0) throw new Error(`Cannot save: ${missing.join(", ")} must be filled in`);
  return kind.keyFields.map((f) => body[f] as string).join(":");
}
