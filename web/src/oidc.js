// Sign-in through the site's OpenID provider (auth.oidc, docs/ui.md): the authorization code flow
// with PKCE (RFC 7636), run by this page as a public client (no secret in the browser).
//
// startSignIn() keeps a fresh code_verifier, state and nonce in sessionStorage (this tab only),
// then leaves for the provider's authorization endpoint with the verifier's S256 challenge. The
// provider comes back to /ui/auth/callback, where finishSignIn() checks `state`, trades the code
// and the verifier for tokens at the token endpoint, checks the ID token's `nonce`, and keeps the
// configured token (id_token or access_token) like a pasted one (api.js setToken). The pending
// values are used once and removed. The server verifies every token it is sent (auth.jwt);
// nothing here makes a token trusted.

import { setToken } from "./api.js";

const PENDING_KEY = "weir.oidc.pending";
export const CALLBACK_PATH = "/ui/auth/callback";

// What the server says about signing in (GET /api/weir/v1/ui/auth, open without a token):
// {mode, oidc: null | {issuer, client_id, scopes, token, authorization_endpoint?,
// token_endpoint?}}. An older server without the route: no provider.
let authPromise = null;
export function authSettings() {
  if (!authPromise) {
    authPromise = fetch("/api/weir/v1/ui/auth", { headers: { Accept: "application/json" } })
      .then((res) => (res.ok ? res.json() : { mode: "required", oidc: null }))
      .catch(() => ({ mode: "required", oidc: null }));
  }
  return authPromise;
}

// "https://idp.example/realms/x" → "idp.example", for the button's label.
export function issuerHost(oidc) {
  try {
    return new URL(oidc.issuer).host;
  } catch (_) {
    return oidc.issuer;
  }
}

function base64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// 32 random bytes as base64url: 43 characters, within RFC 7636's 43..128 unreserved ones.
function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

// RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier))).
export async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

// The provider's endpoints: the configured ones, else its discovery document, whose `issuer`
// must be the configured issuer (OpenID Connect Discovery 1.0, section 4.3).
async function endpoints(oidc) {
  if (oidc.authorization_endpoint && oidc.token_endpoint) {
    return { authorization: oidc.authorization_endpoint, token: oidc.token_endpoint };
  }
  const url = oidc.issuer.replace(/\/+$/, "") + "/.well-known/openid-configuration";
  let doc;
  try {
    const res = await fetch(url, { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error("answered " + res.status);
    doc = await res.json();
  } catch (e) {
    throw new Error(`could not read the provider's discovery document ${url}: ${e.message}`);
  }
  if (doc.issuer !== oidc.issuer) {
    throw new Error(`the discovery document names issuer ${doc.issuer}, not ${oidc.issuer}`);
  }
  return {
    authorization: oidc.authorization_endpoint || doc.authorization_endpoint,
    token: oidc.token_endpoint || doc.token_endpoint,
  };
}

// The path (under /ui) to come back to after signing in: a local path only.
function safeReturn(path) {
  return typeof path === "string" && path.startsWith("/ui/") && !path.startsWith("//") ? path : "/ui/";
}

// Leaves for the provider; comes back to /ui/auth/callback, then to `returnTo` (a path on this
// server; default: the current page). Throws (discovery failed) without leaving.
export async function startSignIn(oidc, returnTo) {
  const ep = await endpoints(oidc);
  const pending = {
    state: randomString(),
    nonce: randomString(),
    verifier: randomString(),
    returnTo: safeReturn(returnTo || location.pathname + location.search),
    redirectUri: location.origin + CALLBACK_PATH,
    tokenEndpoint: ep.token,
    clientId: oidc.client_id,
    token: oidc.token || "id_token",
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const target = new URL(ep.authorization);
  const q = target.searchParams;
  q.set("response_type", "code");
  q.set("client_id", oidc.client_id);
  q.set("redirect_uri", pending.redirectUri);
  q.set("scope", oidc.scopes || "openid");
  q.set("state", pending.state);
  q.set("nonce", pending.nonce);
  q.set("code_challenge", await challengeOf(pending.verifier));
  q.set("code_challenge_method", "S256");
  location.assign(target.toString());
}

// The claims of a JWT, without verifying it (the server does); null when it is not one.
function claimsOf(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (_) {
    return null;
  }
}

// Completes the sign-in from the callback's query string. Answers the path to return to; throws
// an Error saying what went wrong (the caller offers to retry) with `returnTo` set on it.
export async function finishSignIn(search) {
  const params = new URLSearchParams(search);
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY); // one use, whatever happens
  const pending = raw ? JSON.parse(raw) : null;
  const fail = (message) => {
    const e = new Error(message);
    e.returnTo = safeReturn(pending && pending.returnTo);
    return e;
  };
  if (params.get("error")) {
    const detail = params.get("error_description");
    throw fail(`the provider refused the sign-in: ${params.get("error")}${detail ? " (" + detail + ")" : ""}`);
  }
  if (!pending) throw fail("no sign-in was started in this tab (or it was already completed)");
  if (!params.get("state") || params.get("state") !== pending.state) {
    throw fail("the provider's answer does not belong to the sign-in started in this tab (state mismatch)");
  }
  const code = params.get("code");
  if (!code) throw fail("the provider's answer holds no authorization code");
  let res;
  try {
    res = await fetch(pending.tokenEndpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        code_verifier: pending.verifier,
        redirect_uri: pending.redirectUri,
        client_id: pending.clientId,
      }),
    });
  } catch (e) {
    throw fail(`could not reach the token endpoint ${pending.tokenEndpoint}: ${e.message}`);
  }
  let body = null;
  try {
    body = await res.json();
  } catch (_) {
    // not JSON
  }
  if (!res.ok) {
    const why =
      body && body.error
        ? body.error + (body.error_description ? " (" + body.error_description + ")" : "")
        : res.status + " " + res.statusText;
    throw fail(`the token endpoint refused the code: ${why}`);
  }
  const chosen = body && body[pending.token];
  if (!chosen) throw fail(`the token endpoint's answer holds no ${pending.token}`);
  if (body.id_token) {
    const claims = claimsOf(body.id_token);
    if (!claims || claims.nonce !== pending.nonce) {
      throw fail("the ID token's nonce is not the one this tab sent (a replayed or foreign token)");
    }
  }
  setToken(chosen);
  return safeReturn(pending.returnTo);
}
