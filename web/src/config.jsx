// The Configuration pages: /ui/config/<kind> lists clusters, commands or applications (filters in
// the URL), /ui/config/<kind>/<id> shows one with its tags and its links in both directions
// (a cluster's commands; a command's clusters and applications; an application's commands).
import { Link, useLocation, useParams, useSearch } from "wouter-preact";
import { embedded, enc, getJson, isAdmin } from "./api.js";
import { ErrorBox, KeyValues, ListTable, StatusBadge, Tags, Time, useLoad, useMe } from "./ui.jsx";

const KINDS = {
  clusters: { title: "Clusters", list: "clusterList", one: "Cluster" },
  commands: { title: "Commands", list: "commandList", one: "Command" },
  applications: { title: "Applications", list: "applicationList", one: "Application" },
};
// Admins (GET /api/weir/v1/me) get "New …" and "Edit" links to the forms (config_form.jsx);
// nobody else sees them.

// The linked resources shown on a detail page: [title, kind of the linked items, API suffix].
const LINKS = {
  clusters: [["Commands", "commands", "/commands"]],
  commands: [
    ["Clusters", "clusters", "/clusters"],
    ["Applications", "applications", "/applications"],
  ],
  applications: [["Commands", "commands", "/commands"]],
};

function KindTabs({ kind }) {
  return (
    <nav class="tabs">
      {Object.entries(KINDS).map(([k, v]) => (
        <Link key={k} href={"/config/" + k} class={k === kind ? "active" : ""}>
          {v.title}
        </Link>
      ))}
    </nav>
  );
}

export function ConfigListPage() {
  const { kind } = useParams();
  const k = KINDS[kind];
  const search = useSearch();
  const [, navigate] = useLocation();
  const q = new URLSearchParams(search);
  const name = q.get("name") || "";
  const tag = q.get("tag") || "";
  const apiQ = new URLSearchParams({ size: "200" });
  if (name) apiQ.set("name", name);
  tag.split(",").map((t) => t.trim()).filter(Boolean).forEach((t) => apiQ.append("tag", t));
  const list = useLoad(() => (k ? getJson("/api/v3/" + kind + "?" + apiQ) : Promise.reject(new Error("no such page: " + kind))), [kind, apiQ.toString()]);
  const items = embedded(list.data, k ? k.list : "");
  const admin = isAdmin(useMe());
  return (
    <section>
      <div class="page-head">
        <h1>Configuration</h1>
        {admin && k && (
          <Link href={"/config/" + kind + "/new"} class="button edit-control">
            New {k.one.toLowerCase()}
          </Link>
        )}
      </div>
      <KindTabs kind={kind} />
      <form
        class="filters"
        onSubmit={(ev) => {
          ev.preventDefault();
          const f = new FormData(ev.currentTarget);
          const next = new URLSearchParams();
          if (f.get("name")) next.set("name", String(f.get("name")).trim());
          if (f.get("tag")) next.set("tag", String(f.get("tag")).trim());
          const s = next.toString();
          navigate("/config/" + kind + (s ? "?" + s : ""));
        }}
      >
        <div class="text-filters">
          <input key={"n" + name} name="name" placeholder="name" aria-label="name" defaultValue={name} />
          <input key={"t" + tag} name="tag" placeholder="tags (a:b,c:d)" aria-label="tags" defaultValue={tag} />
          <button type="submit">Filter</button>
        </div>
      </form>
      <ErrorBox error={list.error} />
      <ListTable
        columns={["Name", "Status", "Version", "Tags", "Updated"]}
        items={items}
        loaded={!!list.data}
        empty={
          <>
            None. Load some with <code>weir apply -f examples/demo.yaml</code>.
          </>
        }
        row={(e) => (
          <tr key={e.id} data-entity-id={e.id}>
            <td>
              <Link href={"/config/" + kind + "/" + enc(e.id)}>{e.name}</Link>
              {e.id !== e.name && <div class="muted small mono">{e.id}</div>}
            </td>
            <td>
              <StatusBadge status={e.status} />
            </td>
            <td>{e.version}</td>
            <td>
              <Tags tags={e.tags} />
            </td>
            <td>
              <Time value={e.updated} />
            </td>
          </tr>
        )}
      />
    </section>
  );
}

export function ConfigDetailPage() {
  const { kind, id } = useParams();
  const k = KINDS[kind];
  const entity = useLoad(() => getJson("/api/v3/" + kind + "/" + enc(id)), [kind, id]);
  const e = entity.data;
  const admin = isAdmin(useMe());
  return (
    <section>
      <div class="page-head">
        <h1>
          <Link href={"/config/" + kind}>{k ? k.title : kind}</Link> / <span class="mono">{e ? e.name : id}</span>
        </h1>
        {e && <StatusBadge status={e.status} />}
        {e && admin && (
          <Link href={"/config/" + kind + "/" + enc(id) + "/edit"} class="button edit-control">
            Edit
          </Link>
        )}
      </div>
      <ErrorBox error={entity.error} />
      {e && (
        <div class="grid">
          <div class="card">
            <h2>{k.one}</h2>
            <KeyValues
              rows={[
                ["id", <span class="mono">{e.id}</span>],
                ["name", e.name],
                ["version", e.version],
                ["user", e.user],
                ["description", e.description],
                ["tags", <span id="entity-tags"><Tags tags={e.tags} hideGenie={false} /></span>],
                e.executable !== undefined && ["executable", e.executable && <code>{e.executable}</code>],
                e.type !== undefined && ["type", e.type],
                e.memory !== undefined && ["memory", e.memory ? e.memory + " MB" : null],
                ["setup file", e.setupFile],
                ["configs", (e.configs || []).join(", ")],
                ["dependencies", (e.dependencies || []).join(", ")],
                ["created", <Time value={e.created} />],
                ["updated", <Time value={e.updated} />],
                ["metadata", e.metadata && <code class="block">{JSON.stringify(e.metadata, null, 2)}</code>],
              ]}
            />
          </div>
          {(LINKS[kind] || []).map(([title, linkedKind, suffix]) => (
            <Linked key={title} title={title} kind={linkedKind} url={"/api/v3/" + kind + "/" + enc(id) + suffix} />
          ))}
        </div>
      )}
    </section>
  );
}

function Linked({ title, kind, url }) {
  const linked = useLoad(() => getJson(url), [url]);
  const items = Array.isArray(linked.data) ? linked.data : [];
  return (
    <div class="card">
      <h2>{title}</h2>
      <ErrorBox error={linked.error} />
      {linked.data && !items.length && <p class="muted">none</p>}
      <ul class="linked">
        {items.map((x) => (
          <li key={x.id}>
            <Link href={"/config/" + kind + "/" + enc(x.id)}>{x.name}</Link> <StatusBadge status={x.status} />{" "}
            <Tags tags={x.tags} />
          </li>
        ))}
      </ul>
    </div>
  );
}
