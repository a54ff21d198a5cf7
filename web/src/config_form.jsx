// Create and edit forms for clusters, commands and applications (/ui/config/<kind>/new and
// /ui/config/<kind>/<id>/edit), for admins. They POST (create) or PUT (edit: the whole resource,
// the fields the form does not show kept as loaded) Genie's v3 resources. A 4xx answer's message
// names the field ("version: must not be blank", "cluster 'x': status must be ..."): it is shown
// under that input (aria-invalid, aria-describedby), or above the form when no field matches.
import { useState } from "preact/hooks";
import { Link, useLocation, useParams } from "wouter-preact";
import { enc, getJson, isAdmin, sendJson } from "./api.js";
import { ErrorBox, useLoad, useMe } from "./ui.jsx";

const STATUSES = {
  clusters: ["UP", "OUT_OF_SERVICE", "TERMINATED"],
  commands: ["ACTIVE", "DEPRECATED", "INACTIVE"],
  applications: ["ACTIVE", "DEPRECATED", "INACTIVE"],
};
const ONE = { clusters: "cluster", commands: "command", applications: "application" };

// [json field, label, input kind] per resource kind.
function fieldsOf(kind) {
  const common = [
    ["name", "Name", "text"],
    ["user", "User", "text"],
    ["version", "Version", "text"],
    ["status", "Status", "status"],
    ["description", "Description", "textarea"],
    ["tags", "Tags (comma-separated)", "list"],
  ];
  if (kind === "commands") {
    return [...common, ["executable", "Executable", "text"], ["checkDelay", "Check delay (ms)", "number"], ["memory", "Memory (MB)", "number"]];
  }
  if (kind === "applications") return [...common, ["type", "Type", "text"]];
  return common;
}

// The field a server message is about: the first field named as "<field>:" or "status must".
export function fieldOfMessage(message, fields) {
  let best = null;
  let at = Infinity;
  for (const f of fields) {
    const re = new RegExp("(^|[^A-Za-z])" + f + "(:| must)");
    const m = re.exec(message);
    if (m && m.index < at) {
      best = f;
      at = m.index;
    }
  }
  return best;
}

function toForm(entity, fields) {
  const v = {};
  for (const [f, , kind] of fields) {
    const x = entity ? entity[f] : undefined;
    if (kind === "list") v[f] = (x || []).filter((t) => !t.startsWith("genie.")).join(", ");
    else v[f] = x === undefined || x === null ? "" : String(x);
  }
  return v;
}

export function ConfigFormPage() {
  const { kind, id } = useParams();
  const creating = !id;
  const fields = fieldsOf(kind);
  const who = useMe();
  const [, navigate] = useLocation();
  const loaded = useLoad(() => (creating ? Promise.resolve(null) : getJson("/api/v3/" + kind + "/" + enc(id))), [kind, id]);
  const [values, setValues] = useState(null);
  const [fieldError, setFieldError] = useState(null); // {field, message}
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const form = values || (loaded.data || creating ? toForm(loaded.data || { status: STATUSES[kind] && STATUSES[kind][0] }, fields) : null);

  if (!STATUSES[kind]) return <ErrorBox error={"no such page: " + kind} />;
  if (who && !isAdmin(who)) {
    return (
      <section>
        <h1>Not allowed</h1>
        <p>Creating and editing configuration needs the admin role; you are {who.name}.</p>
      </section>
    );
  }

  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    setFieldError(null);
    const body = creating ? {} : { ...loaded.data };
    delete body._links;
    for (const [f, , k] of fields) {
      const v = form[f];
      if (k === "list") {
        const genie = ((loaded.data && loaded.data[f]) || []).filter((t) => t.startsWith("genie."));
        body[f] = [...genie, ...v.split(",").map((t) => t.trim()).filter(Boolean)];
      } else if (k === "number") {
        if (v.trim() === "") delete body[f];
        else body[f] = Number(v);
      } else if (f === "description" && v === "") {
        delete body[f];
      } else {
        body[f] = v;
      }
    }
    try {
      if (creating) {
        await sendJson("POST", "/api/v3/" + kind, body);
        // Genie answers 201 with a Location and no body; the list shows the new one.
        navigate("/config/" + kind + "?name=" + enc(body.name));
      } else {
        await sendJson("PUT", "/api/v3/" + kind + "/" + enc(id), body);
        navigate("/config/" + kind + "/" + enc(id));
      }
    } catch (e) {
      const f = e.status >= 400 && e.status < 500 ? fieldOfMessage(e.message, fields.map((x) => x[0])) : null;
      if (f) setFieldError({ field: f, message: e.message });
      else setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1>
          <Link href={"/config/" + kind}>{kind[0].toUpperCase() + kind.slice(1)}</Link> /{" "}
          {creating ? "new " + ONE[kind] : <Link href={"/config/" + kind + "/" + enc(id)}>{loaded.data ? loaded.data.name : id}</Link>}
          {!creating && " / edit"}
        </h1>
      </div>
      <ErrorBox error={loaded.error || error} />
      {form && (
        <form class="card entity-form" onSubmit={submit} noValidate>
          {fields.map(([f, label, k]) => {
            const bad = fieldError && fieldError.field === f;
            const common = {
              id: "field-" + f,
              name: f,
              value: form[f],
              "aria-invalid": bad ? "true" : undefined,
              "aria-describedby": bad ? "error-" + f : undefined,
              onInput: (e) => setValues({ ...form, [f]: e.currentTarget.value }),
            };
            return (
              <div class={"field" + (bad ? " invalid" : "")} key={f}>
                <label for={"field-" + f}>{label}</label>
                {k === "status" ? (
                  <select {...common}>
                    {STATUSES[kind].map((s) => (
                      <option key={s} value={s}>
                        {s}
                      </option>
                    ))}
                  </select>
                ) : k === "textarea" ? (
                  <textarea rows={3} {...common} />
                ) : (
                  <input type={k === "number" ? "number" : "text"} {...common} />
                )}
                {bad && (
                  <div class="field-error" id={"error-" + f} role="alert">
                    {fieldError.message}
                  </div>
                )}
              </div>
            );
          })}
          <div class="form-buttons">
            <button type="submit" disabled={busy}>
              {creating ? "Create " + ONE[kind] : "Save"}
            </button>
            <button type="button" class="secondary" onClick={() => history.back()}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
