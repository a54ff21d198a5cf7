// weir's browser UI: the shell (header, navigation, token prompt) and the routes. Every view has
// its own URL under /ui/ (the server answers index.html for any of them), so views can be shared.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Link, Redirect, Route, Router, Switch, useLocation } from "wouter-preact";
import { onTokenNeeded, setToken } from "./api.js";
import { authSettings, finishSignIn, issuerHost, startSignIn } from "./oidc.js";
import { AssetPage, AssetsPage } from "./assets.jsx";
import { ConfigDetailPage, ConfigListPage } from "./config.jsx";
import { ConfigFormPage } from "./config_form.jsx";
import { JobPage } from "./job.jsx";
import { JobsPage } from "./jobs.jsx";
import { KeyHelp } from "./keys.jsx";
import { NodesPage } from "./nodes.jsx";
import { InstancePage, WorkflowPage, WorkflowsPage } from "./workflows.jsx";
import "./style.css";

// Shown on the first 401 (and when a token is refused): sign in with the site's OpenID provider
// when the server names one (auth.oidc), or paste a bearer token.
function TokenPrompt() {
  const [need, setNeed] = useState(null);
  const [oidc, setOidc] = useState(null);
  const [failure, setFailure] = useState("");
  useEffect(() => onTokenNeeded((needed, reason) => setNeed(needed ? reason : null)), []);
  useEffect(() => {
    authSettings().then((a) => setOidc(a.oidc || null));
  }, []);
  if (need === null) return null;
  const signIn = () => {
    setFailure("");
    startSignIn(oidc).catch((e) => setFailure(e.message));
  };
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
        {oidc && (
          <p>
            <button type="button" class="signin" onClick={signIn} autofocus>
              Sign in with {issuerHost(oidc)}
            </button>
          </p>
        )}
        {failure && (
          <p class="error" role="alert">
            {failure}
          </p>
        )}
        <p class="muted small">
          {oidc ? "Or paste" : "Paste"} a bearer token (a static token or a JWT). It is kept for this
          browser tab only.
        </p>
        <input name="token" type="password" autocomplete="off" aria-label="token" autofocus={!oidc} />
        <button type="submit">Use token</button>
      </form>
    </div>
  );
}

// /ui/auth/callback: where the OpenID provider sends the browser back. Completes the sign-in and
// returns to the page the user was on; on failure says why and offers to try again.
function AuthCallback() {
  const [, navigate] = useLocation();
  const [error, setError] = useState(null);
  useEffect(() => {
    finishSignIn(location.search).then(
      (back) => navigate(back.replace(/^\/ui/, "") || "/", { replace: true }),
      (e) => setError(e),
    );
  }, []);
  if (!error) return <p class="muted">Signing in…</p>;
  const retry = async () => {
    const a = await authSettings();
    if (a.oidc) startSignIn(a.oidc, error.returnTo).catch((e) => setError(e));
  };
  return (
    <section class="card signin-error" role="alert">
      <h1>Sign-in failed</h1>
      <p class="error">{error.message}.</p>
      <p>
        <button type="button" onClick={retry}>
          Try again
        </button>{" "}
        <a href={error.returnTo}>Back to weir</a>
      </p>
    </section>
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
          <Route path="/auth/callback" component={AuthCallback} />
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
