// Objects: list, create, edit and delete every kind the REST API has (logic/kinds.ts). The form is the
// object's fields as text (logic/objectForm.ts); a save is a POST of the whole object to its key, as
// netctl sends it, and a failure shows netmaster's own message as it came.

import { useState } from "preact/hooks";
import { call, get, messageOf } from "../api.js";
import { UI_KINDS, type UiKind } from "../logic/kinds.js";
import { formBody, formFields, objectKeyOf, type FormField } from "../logic/objectForm.js";
import { usePoll } from "../poll.js";
import { ErrorText } from "../errorText.js";

type Row = Record<string, unknown> & { key?: string };

const path = (kind: UiKind, key: string) => `/api/v1/${kind.collection}/${encodeURIComponent(key)}/`;

function Editor(props: { kind: UiKind; editing: Row | undefined; done: () => void }) {
  const { kind, editing } = props;
  const [fields, setFields] = useState<FormField[]>(() => formFields(kind, editing));
  const [error, setError] = useState<string>("");
  const [busy, setBusy] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setError("");
    setBusy(true);
    try {
      const body = formBody(fields);
      await call("POST", path(kind, objectKeyOf(kind, body)), body);
      props.done();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="editor" onSubmit={save} data-kind={kind.collection}>
      <h3>
        {editing ? "Edit" : "New"} {kind.label.replace(/s$/, "").toLowerCase()} {editing?.key ?? ""}
      </h3>
      {fields.map((f, i) => (
        <label class="field">
          <span>
            {f.name}
            {f.type === "list" ? " (comma separated)" : ""}
          </span>
          <input
            name={f.name}
            value={f.text}
            readOnly={editing !== undefined && kind.keyFields.includes(f.name)}
            onInput={(e) => {
              const text = (e.target as HTMLInputElement).value;
              setFields((all) => all.map((g, j) => (j === i ? { ...g, text } : g)));
            }}
          />
        </label>
      ))}
      <ErrorText text={error} />
      <div class="buttons">
        <button type="submit" disabled={busy}>
          Save
        </button>
        <button type="button" onClick={props.done}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function Objects() {
  const [kind, setKind] = useState<UiKind>(UI_KINDS[0]!);
  const [editing, setEditing] = useState<{ row: Row | undefined } | undefined>(undefined);
  const [error, setError] = useState("");
  const list = usePoll(() => get<Row[]>(`/api/v1/${kind.collection}/`), [kind.collection], 3000);
  const remove = async (row: Row) => {
    setError("");
    try {
      await call("DELETE", path(kind, row.key ?? kind.keyFields.map((f) => String(row[f])).join(":")));
      list.refresh();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const columns = [...kind.keyFields, ...Object.keys(kind.template).filter((f) => !kind.keyFields.includes(f)).slice(0, 5)];
  return (
    <section class="view" id="objects">
      <h2>Objects</h2>
      <nav class="kinds">
        {UI_KINDS.map((k) => (
          <button
            class={k === kind ? "active" : ""}
            data-collection={k.collection}
            onClick={() => {
              setKind(k);
              setEditing(undefined);
              setError("");
            }}
          >
            {k.label}
          </button>
        ))}
      </nav>
      <button class="new" onClick={() => setEditing({ row: undefined })}>
        New {kind.label.replace(/s$/, "").toLowerCase()}
      </button>
      {editing && (
        <Editor
          key={`${kind.collection}/${editing.row?.key ?? "new"}`}
          kind={kind}
          editing={editing.row}
          done={() => {
            setEditing(undefined);
            list.refresh();
          }}
        />
      )}
      <ErrorText text={error || list.error} />
      <table class="plain objects">
        <thead>
          <tr>
            {columns.map((c) => (
              <th>{c}</th>
            ))}
            <th />
          </tr>
        </thead>
        <tbody>
          {(list.data ?? []).map((row) => (
            <tr data-key={row.key}>
              {columns.map((c) => (
                <td>{Array.isArray(row[c]) ? (row[c] as unknown[]).join(", ") : String(row[c] ?? "")}</td>
              ))}
              <td class="actions">
                <button onClick={() => setEditing({ row })}>Edit</button>
                <button
                  class="danger"
                  onClick={() => {
                    if (confirm(`Delete ${kind.collection} ${row.key}?`)) void remove(row);
                  }}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
