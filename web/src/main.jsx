// weir's browser UI: the shell (header, navigation, token prompt) and the routes. Every view has
// its own URL under /ui/ (the server answers index.html for any of them), so views can be shared.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Link, Redirect, Route, Router, Switch, useLocation } from "wouter-preact";
import { onTokenNeeded, setToken } from "./api.js";
import { AssetPage, AssetsPage } from "./assets.jsx";
import { ConfigDetailPage, ConfigListPage } from "./config.jsx";
import { ConfigFormPage } from "./config_form.jsx";
import { JobPage } from "./job.jsx";
import { JobsPage } from "./jobs.jsx";
import { KeyHelp } from "./keys.jsx";
import { NodesPage } from "./nodes.jsx";
import { InstancePage, WorkflowPage, WorkflowsPage } from "./workflows.jsx";
import "./style.css";

function TokenPrompt() {
  const [need, setNeed] = useState(null);
  useEffect(() => onTokenNeeded((needed, reason) => setNeed(needed ? reason : null)), []);
  if (need === null) return null;
  return (
    <div class="overlay">
      <form
        class="card token"
        onSubmit={(ev) => {
          ev.preventDefault();
          setToken(String(new FormData(ev.currentTarget).get("token") || "").trim());
        }}
      >
        <h2>Sign in</h2>
        <p>{need}.</p>
        <p class="muted small">
          Paste a bearer token (a static token or a JWT). It is kept for this browser tab only.
        </p>
        <input name="token" type="password" autocomplete="off" aria-label="token" autofocus />
        <button type="submit">Use token</button>
      </form>
    </div>
  );
}

function NavLink({ href, children }) {
  const [location] = useLocation();
  const active = location === href || location.startsWith(href + "/");
  return (
    <Link href={href} class={active ? "active" : ""} aria-current={active ? "page" : undefined}>
      {children}
    </Link>
  );
}

function App() {
  return (
    <Router base="/ui">
      <header class="top">
        <Link href="/jobs" class="brand">
          weir
        </Link>
        <nav>
          <NavLink href="/jobs">Jobs</NavLink>
          <NavLink href="/workflows">Workflows</NavLink>
          <NavLink href="/assets">Assets</NavLink>
          <NavLink href="/config">Configuration</NavLink>
          <NavLink href="/nodes">Nodes</NavLink>
        </nav>
      </header>
      <main>
        <Switch>
          <Route path="/">
            <Redirect to="/jobs" replace />
          </Route>
          <Route path="/jobs" component={JobsPage} />
          <Route path="/jobs/:id/output/*" component={JobPage} />
          <Route path="/jobs/:id" component={JobPage} />
          <Route path="/workflows" component={WorkflowsPage} />
          <Route path="/workflows/:id" component={WorkflowPage} />
          <Route path="/workflows/:id/instances/:n" component={InstancePage} />
          <Route path="/config">
            <Redirect to="/config/clusters" replace />
          </Route>
          <Route path="/assets" component={AssetsPage} />
          <Route path="/assets/:uuid" component={AssetPage} />
          <Route path="/nodes" component={NodesPage} />
          <Route path="/config/:kind" component={ConfigListPage} />
          <Route path="/config/:kind/new" component={ConfigFormPage} />
          <Route path="/config/:kind/:id/edit" component={ConfigFormPage} />
          <Route path="/config/:kind/:id" component={ConfigDetailPage} />
          <Route>
            <section>
              <h1>Not found</h1>
              <p>
                This page does not exist. Go to the <Link href="/jobs">jobs</Link>.
              </p>
            </section>
          </Route>
        </Switch>
      </main>
      <TokenPrompt />
      <KeyHelp />
    </Router>
  );
}

render(<App />, document.getElementById("app"));
