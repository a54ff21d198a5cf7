// A small OpenID provider for the UI's sign-in scenario (ui_test.mjs `oidc`, started by
// tests/ui_test.cc): node fake_oidc.mjs URL_FILE
// Listens on a free loopback port and writes its issuer URL (http://127.0.0.1:PORT) to URL_FILE
// once it accepts connections. Node's own modules only.
//
//   GET  /.well-known/openid-configuration   discovery (issuer, endpoints, jwks_uri)
//   GET  /authorize   auto-approves: 302 to redirect_uri with code and state. Refuses (302 with
//                     error=invalid_request) a request without response_type=code, the
//                     client id, a redirect_uri, state, nonce, or an S256 code_challenge.
//   POST /token       form-encoded authorization_code grant: the code (once), client_id and
//                     redirect_uri of its /authorize, and a code_verifier whose S256 is the
//                     recorded challenge; else 400 invalid_grant. Answers an id_token (aud:
//                     the client id, nonce of /authorize) and an access_token (aud: weir-api),
//                     both RS256 with iss, sub, exp, groups [user]. CORS: any origin.
//   GET  /jwks        the signing key (RS256, kid fake-1)
//   GET  /log         what happened: {authorize: [...], token: [...]} (the scenario's checks)
//   POST /control     JSON {deny, nonce, state}: the next /authorize answers access_denied, or
//                     the tokens carry this nonce, or the redirect this state (null: normal)
import { createHash, createSign, generateKeyPairSync, randomBytes } from "node:crypto";
import { renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";

export const CLIENT_ID = "weir-ui";
export const SUBJECT = "ada-from-the-fake-idp";

const urlFile = process.argv[2];
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: "jwk" }), kid: "fake-1", alg: "RS256", use: "sig" };
const codes = new Map(); // code → {challenge, nonce, redirectUri, clientId, used}
const log = { authorize: [], token: [] };
let control = { deny: false, nonce: null, state: null };
let issuer = "";

const b64url = (buf) => Buffer.from(buf).toString("base64url");

function sign(claims) {
  const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: jwk.kid }));
  const body = b64url(JSON.stringify(claims));
  const s = createSign("RSA-SHA256");
  s.update(head + "." + body);
  return head + "." + body + "." + b64url(s.sign(privateKey));
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": "no-store",
    ...headers,
  });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

function redirect(res, target, params) {
  const u = new URL(target);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) u.searchParams.set(k, v);
  res.writeHead(302, { Location: u.toString() });
  res.end();
}

function authorize(res, q) {
  const entry = Object.fromEntries(q.entries());
  log.authorize.push(entry);
  const redirectUri = q.get("redirect_uri");
  if (!redirectUri || !/^https?:\/\//.test(redirectUri)) return send(res, 400, { error: "invalid_request", error_description: "redirect_uri" });
  const problem =
    q.get("response_type") !== "code" ? "response_type must be code"
    : q.get("client_id") !== CLIENT_ID ? "unknown client_id"
    : !q.get("state") ? "state is required"
    : !q.get("nonce") ? "nonce is required"
    : q.get("code_challenge_method") !== "S256" ? "code_challenge_method must be S256"
    : !/^[A-Za-z0-9_-]{43}$/.test(q.get("code_challenge") || "") ? "code_challenge is not a S256 challenge"
    : null;
  const state = control.state || q.get("state");
  if (problem) {
    entry.refused = problem;
    return redirect(res, redirectUri, { error: "invalid_request", error_description: problem, state });
  }
  if (control.deny) {
    entry.refused = "access_denied";
    return redirect(res, redirectUri, { error: "access_denied", error_description: "the user said no", state });
  }
  const code = b64url(randomBytes(24));
  codes.set(code, { challenge: q.get("code_challenge"), nonce: q.get("nonce"), redirectUri, clientId: q.get("client_id"), used: false });
  entry.code = code;
  redirect(res, redirectUri, { code, state });
}

function token(res, form) {
  const entry = { code: form.get("code"), code_verifier: form.get("code_verifier") };
  log.token.push(entry);
  const refuse = (why) => {
    entry.refused = why;
    send(res, 400, { error: "invalid_grant", error_description: why });
  };
  const c = codes.get(form.get("code") || "");
  if (form.get("grant_type") !== "authorization_code") return refuse("grant_type must be authorization_code");
  if (!c || c.used) return refuse("unknown or used code");
  c.used = true;
  if (form.get("client_id") !== c.clientId) return refuse("client_id differs from the authorization request's");
  if (form.get("redirect_uri") !== c.redirectUri) return refuse("redirect_uri differs from the authorization request's");
  const verifier = form.get("code_verifier") || "";
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return refuse("code_verifier is not a valid verifier");
  if (b64url(createHash("sha256").update(verifier, "ascii").digest()) !== c.challenge) {
    return refuse("code_verifier does not match the code_challenge");
  }
  entry.ok = true;
  const now = Math.floor(Date.now() / 1000);
  const common = { iss: issuer, sub: SUBJECT, iat: now, exp: now + 600, groups: ["user"] };
  send(res, 200, {
    token_type: "Bearer",
    expires_in: 600,
    id_token: sign({ ...common, aud: c.clientId, nonce: control.nonce || c.nonce }),
    access_token: sign({ ...common, aud: "weir-api" }),
  });
}

const server = createServer((req, res) => {
  const u = new URL(req.url, issuer);
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    if (req.method === "OPTIONS") {
      return send(res, 204, "", {
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type, Accept",
      });
    }
    const route = req.method + " " + u.pathname;
    if (route === "GET /.well-known/openid-configuration") {
      return send(res, 200, {
        issuer,
        authorization_endpoint: issuer + "/authorize",
        token_endpoint: issuer + "/token",
        jwks_uri: issuer + "/jwks",
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        code_challenge_methods_supported: ["S256"],
      });
    }
    if (route === "GET /authorize") return authorize(res, u.searchParams);
    if (route === "POST /token") return token(res, new URLSearchParams(body));
    if (route === "GET /jwks") return send(res, 200, { keys: [jwk] });
    if (route === "GET /log") return send(res, 200, log);
    if (route === "POST /control") {
      control = { deny: false, nonce: null, state: null, ...JSON.parse(body || "{}") };
      return send(res, 200, control);
    }
    send(res, 404, { error: "not_found" });
  });
});

server.listen(0, "127.0.0.1", () => {
  issuer = "http://127.0.0.1:" + server.address().port;
  writeFileSync(urlFile + ".tmp", issuer);
  renameSync(urlFile + ".tmp", urlFile);
});
process.on("SIGTERM", () => process.exit(0));
