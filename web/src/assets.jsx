// The Assets pages: /ui/assets lists the namespaces (type, namespace, repository, versions, the
// newest); /ui/assets?type=T&namespace=N shows a namespace's versions per branch, newest first;
// /ui/assets/<uuid> shows one version with a download and the workflow versions that reference
// it. The API has no "referenced by" query: the page reads the deployed workflows' versions and
// their manifests' asset pins (GET /api/weir/v1/workflows/{id}/versions/{v}) and matches the UUID.
import { useState } from "preact/hooks";
import { Link, useParams, useSearch } from "wouter-preact";
import { enc, errorOf, getJson, request } from "./api.js";
import { ErrorBox, KeyValues, ListTable, Time, formatBytes, useLoad } from "./ui.jsx";

const ASSETS = "/api/weir/v1/assets";

// Every page of GET /api/weir/v1/assets?<query> (1000 per page, at most `maxPages`).
async function allAssets(query, maxPages = 20) {
  const out = [];
  for (let page = 0; page < maxPages; page++) {
    const q = new URLSearchParams(query);
    q.set("size", "1000");
    q.set("page", String(page));
    const doc = await getJson(ASSETS + "?" + q);
    out.push(...(doc.assets || []));
    if (!doc.page || page + 1 >= doc.page.totalPages) break;
  }
  return out;
}

function assetHref(uuid) {
  // A branch's "%" must be escaped again in a URL path (docs/api.md, "Assets").
  return "/assets/" + enc(uuid);
}

export function AssetsPage() {
  const q = new URLSearchParams(useSearch());
  const type = q.get("type") || "";
  const namespace = q.get("namespace") || "";
  return type && namespace ? <NamespacePage type={type} namespace={namespace} /> : <NamespacesPage />;
}

function NamespacesPage() {
  const list = useLoad(() => allAssets({}), []);
  const groups = new Map();
  for (const a of list.data || []) {
    const key = a.type + "\u0000" + a.namespace;
    const g = groups.get(key) || { type: a.type, namespace: a.namespace, owner: a.owner, repo: a.repo, count: 0, newest: a, branches: new Set() };
    g.count++;
    g.branches.add(a.branch);
    if (a.created > g.newest.created) g.newest = a;
    groups.set(key, g);
  }
  const rows = [...groups.values()].sort((x, y) => (x.namespace + x.type).localeCompare(y.namespace + y.type));
  return (
    <section>
      <div class="page-head">
        <h1>Assets</h1>
      </div>
      <ErrorBox error={list.error} />
      <ListTable
        class="namespaces"
        columns={["Namespace", "Type", "Repository", "Branches", ["Versions", "num"], "Newest"]}
        items={rows}
        loaded={!!list.data}
        empty={
          <>
            No assets published. Publish one with <code>weir asset publish</code> or deploy a project.
          </>
        }
        row={(g) => (
          <tr key={g.type + "/" + g.namespace} data-namespace={g.namespace}>
            <td>
              <Link href={"/assets?type=" + enc(g.type) + "&namespace=" + enc(g.namespace)}>{g.namespace}</Link>
            </td>
            <td>{g.type}</td>
            <td class="mono small">{g.owner + "/" + g.repo}</td>
            <td>{g.branches.size}</td>
            <td class="num">{g.count}</td>
            <td>
              <Time value={g.newest.created} />
            </td>
          </tr>
        )}
      />
    </section>
  );
}

function NamespacePage({ type, namespace }) {
  const list = useLoad(() => allAssets({ type, namespace }), [type, namespace]);
  const byBranch = new Map();
  for (const a of list.data || []) (byBranch.get(a.branch) || byBranch.set(a.branch, []).get(a.branch)).push(a);
  for (const v of byBranch.values()) v.sort((x, y) => y.build - x.build);
  // Branches with the newest version first.
  const branches = [...byBranch.entries()].sort((x, y) => (y[1][0].created > x[1][0].created ? 1 : -1));
  return (
    <section>
      <div class="page-head">
        <h1>
          <Link href="/assets">Assets</Link> / <span class="mono">{namespace}</span> <span class="muted small">({type})</span>
        </h1>
      </div>
      <ErrorBox error={list.error} />
      {list.data && !branches.length && <p class="muted">No versions.</p>}
      {branches.map(([branch, versions]) => (
        <div class="card section" key={branch} data-branch={branch}>
          <h2>
            branch <span class="mono">{safeDecode(branch)}</span>{" "}
            <span class="muted small">
              {versions.length} version{versions.length === 1 ? "" : "s"}
            </span>
          </h2>
          <div class="table-wrap">
            <table class="asset-versions">
              <thead>
                <tr>
                  <th>Build</th>
                  <th>Commit</th>
                  <th>File</th>
                  <th class="num">Size</th>
                  <th>Publisher</th>
                  <th>Published</th>
                </tr>
              </thead>
              <tbody>
                {versions.map((a) => (
                  <tr key={a.uuid} data-uuid={a.uuid}>
                    <td>
                      <Link href={assetHref(a.uuid)}>#{a.build}</Link>
                      {a.dirty && <span class="badge st-killed"> dirty</span>}
                    </td>
                    <td class="mono small">{a.commit}</td>
                    <td class="mono small">{a.fileName}</td>
                    <td class="num">{formatBytes(a.size)}</td>
                    <td>{a.publisher || <span class="muted">–</span>}</td>
                    <td>
                      <Time value={a.created} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ))}
    </section>
  );
}

function safeDecode(b) {
  try {
    return decodeURIComponent(b);
  } catch (_) {
    return b;
  }
}

// The workflow versions whose manifest pins `uuid`: [{workflow, version, active}].
async function referencesOf(uuid) {
  const wfs = (await getJson("/api/weir/v1/workflows")).workflows || [];
  const out = [];
  for (const w of wfs) {
    const base = "/api/weir/v1/workflows/" + enc(w.id);
    const versions = (await getJson(base + "/versions")).versions || [];
    const docs = await Promise.all(versions.map((v) => getJson(base + "/versions/" + v.version)));
    docs.forEach((d, i) => {
      const pins = (d.manifest && d.manifest.assets) || [];
      if (pins.some((p) => p.uuid === uuid)) out.push({ workflow: w.id, version: versions[i].version, active: versions[i].active });
    });
  }
  return out;
}

export function AssetPage() {
  const uuid = safeDecode(useParams().uuid);
  const asset = useLoad(() => getJson(ASSETS + "/" + enc(uuid)), [uuid]);
  const refs = useLoad(() => referencesOf(uuid), [uuid]);
  const [error, setError] = useState(null);
  const a = asset.data;
  const download = async () => {
    setError(null);
    const res = await request(ASSETS + "/" + enc(uuid) + "/content");
    if (!res.ok) {
      setError(await errorOf(res));
      return;
    }
    const blob = await res.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = (a && a.fileName) || uuid;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  };
  return (
    <section>
      <div class="page-head">
        <h1>
          <Link href="/assets">Assets</Link>
          {a && (
            <>
              {" / "}
              <Link href={"/assets?type=" + enc(a.type) + "&namespace=" + enc(a.namespace)}>{a.namespace}</Link>
            </>
          )}{" "}
          / <span class="mono">{a ? safeDecode(a.branch) + " #" + a.build : uuid}</span>
        </h1>
        {a && (
          <button class="secondary" onClick={download}>
            Download
          </button>
        )}
      </div>
      <ErrorBox error={asset.error || error} />
      {a && (
        <div class="grid">
          <div class="card">
            <h2>Version</h2>
            <KeyValues
              hideEmpty
              rows={[
                ["uuid", <span class="mono small">{a.uuid}</span>],
                ["type", a.type],
                ["repository", a.owner + "/" + a.repo],
                ["branch", safeDecode(a.branch)],
                ["commit", <span class="mono">{a.commit}</span>],
                ["build", a.build],
                ["file", a.fileName],
                ["size", formatBytes(a.size)],
                ["sha256", <span class="mono small">{a.sha256}</span>],
                ["publisher", a.publisher],
                ["dirty", a.dirty ? "yes" : ""],
                ["published", <Time value={a.created} />],
              ]}
            />
          </div>
          <div class="card" id="asset-refs">
            <h2>Used by workflow versions</h2>
            <ErrorBox error={refs.error} />
            {refs.loading && !refs.data && <p class="muted">Reading the workflows' versions…</p>}
            {refs.data && !refs.data.length && <p class="muted">No deployed workflow version pins this version.</p>}
            <ul class="linked">
              {(refs.data || []).map((r) => (
                <li key={r.workflow + "@" + r.version} data-ref={r.workflow + "@" + r.version}>
                  <Link href={"/workflows/" + enc(r.workflow)}>{r.workflow}</Link> version {r.version}{" "}
                  {r.active && <span class="badge st-active">active</span>}
                </li>
              ))}
            </ul>
          </div>
        </div>
      )}
    </section>
  );
}
