// A throw-away OpenID Connect provider for the maxiofs federation tests, built on the
// `oidc-provider` package (pinned in package.json: 8.8.1, the last line that supports Node 18
// and 20; 9.x wants Node 22). Test-only: never run it anywhere else.
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json (written by tests/clients/fed/oidc_client.py):
//   {
//     "port": 5556,                      // loopback port to listen on
//     "issuer": "http://127.0.0.1:5556", // optional, this is the default
//     "keys_file": "/tmp/.../jwks.json", // private JWKS; made (one RSA key) when missing
//     "id_token_ttl": 600,               // seconds
//     "clients": [{"client_id", "client_secret", "redirect_uris": [...],
//                  "token_endpoint_auth_method": "client_secret_basic" | "client_secret_post"}],
//     "users": {"alice": {"password": "...", "claims": {"email": ..., "groups": [...], ...}}}
//   }
//
// The login page (GET /interaction/<uid>) is a plain form (username, password, "Sign in"); the
// password is checked against the users table and the consent is given with the login (one
// page). The code flow requires PKCE (S256). Claims of the granted scopes (profile:
// preferred_username/name, email: email/email_verified, groups: groups) go into the ID token.
//
// Test-only hooks (loopback only, no auth: this provider is for the test suite):
//   POST /__test/rotate[?keep_old=0] -> a new RSA signing key; the old ones stay in the JWKS
//        (verify only) unless keep_old=0. Answers {"kid": new, "previous": [kids]}.
//   POST /__test/sign  {"claims": {...}, "mode": M, "kid"?: K} -> {"token": JWT} where M is
//        "current" (the current signing key), "foreign" (a key the provider never published,
//        with a kid of its own), "foreign-same-kid" (a foreign key claiming the current kid),
//        "none" (alg none, no signature), "hs256-pem" / "hs256-jwk" (HS256 keyed with the
//        current public key as SPKI PEM / as its public JWK JSON).
//   POST /__test/config {"id_token_ttl"?: n, "clients"?: [...]} -> changes the configuration.
//   GET  /__test/health -> {"ok": true, "kid": current signing kid}
// Every change of keys or configuration builds a new Provider on the same port (the memory
// adapter is module-wide, so codes and sessions survive it).

import { createServer } from 'node:http';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const configPath = process.argv[2] || process.env.OIDC_TEST_CONFIG;
if (!configPath) {
  console.error('usage: node provider.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const port = Number(process.env.OIDC_TEST_PORT || config.port);
const issuer = config.issuer || `http://127.0.0.1:${port}`;
const keysFile = config.keys_file;
let idTokenTtl = Number(config.id_token_ttl || 600);
let clients = config.clients || [];
const users = config.users || {};
// Constant across rebuilds so that cookies signed by one Provider instance verify in the next.
const cookieKeys = [crypto.randomBytes(32).toString('hex')];

// ------------------------------------------------------------------------------ keys

function newRsaJwk() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  jwk.kid = `k-${crypto.randomBytes(6).toString('hex')}`;
  jwk.alg = 'RS256';
  jwk.use = 'sig';
  return jwk;
}

function loadKeys() {
  if (keysFile && existsSync(keysFile)) {
    return JSON.parse(readFileSync(keysFile, 'utf8')).keys;
  }
  const keys = [newRsaJwk()];
  saveKeys(keys);
  return keys;
}

function saveKeys(keys) {
  if (keysFile) writeFileSync(keysFile, JSON.stringify({ keys }, null, 2));
}

// keys[0] signs; the others are published for verification only.
let keys = loadKeys();

function providerJwks() {
  return {
    keys: keys.map((key, i) => (i === 0 ? { ...key } : { ...key, key_ops: ['verify'] })),
  };
}

function publicJwk(jwk) {
  const { kty, n, e, kid, alg, use } = jwk;
  return { kty, n, e, kid, alg, use };
}

// ------------------------------------------------------------------------------ provider

function findAccount(_ctx, id) {
  const user = users[id];
  if (!user) return undefined;
  return {
    accountId: id,
    async claims() {
      return { sub: id, preferred_username: id, name: id, ...(user.claims || {}) };
    },
  };
}

function buildProvider() {
  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: c.token_endpoint_auth_method || 'client_secret_basic',
    })),
    jwks: providerJwks(),
    cookies: { keys: cookieKeys },
    findAccount,
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // Claims of the granted scopes go into the ID token even though an access token is issued.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { methods: ['S256'], required: () => true },
    ttl: {
      IdToken: () => idTokenTtl,
      AccessToken: () => 600,
      AuthorizationCode: () => 120,
      Interaction: () => 600,
      Session: () => 600,
      Grant: () => 600,
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>oidc error</title><h1>${escape(out.error)}</h1>`
        + `<p data-testid="oidc-error">${escape(out.error_description || '')}</p>`;
    },
  });
  return provider;
}

let provider = buildProvider();
let handler = provider.callback();

function rebuild() {
  provider = buildProvider();
  handler = provider.callback();
}

// ------------------------------------------------------------------------------ login page

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

function loginPage(uid, clientId, error) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Test IdP sign-in</title></head>
<body>
<h1>Test IdP</h1>
<p>Sign in to continue to <b data-testid="idp-client">${escape(clientId)}</b></p>
${error ? `<p data-testid="idp-error" style="color:red">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" data-testid="idp-form">
  <label>Username <input name="username" id="username" data-testid="idp-username" autocomplete="off" required></label>
  <label>Password <input name="password" id="password" type="password" data-testid="idp-password" required></label>
  <button type="submit" id="submit" data-testid="idp-submit">Sign in</button>
</form>
</body></html>`;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

function sendJson(res, status, value) {
  send(res, status, 'application/json', JSON.stringify(value));
}

async function interaction(req, res, url) {
  const match = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return send(res, 404, 'text/plain', 'not found');
  const details = await provider.interactionDetails(req, res);
  const { uid, params } = details;
  if (req.method === 'GET' && !match[2]) {
    return send(res, 200, 'text/html; charset=utf-8', loginPage(uid, params.client_id));
  }
  if (req.method === 'POST' && match[2]) {
    const form = new URLSearchParams(await readBody(req));
    const username = form.get('username') || '';
    const user = Object.hasOwn(users, username) ? users[username] : undefined;
    if (!user || user.password !== form.get('password')) {
      return send(res, 200, 'text/html; charset=utf-8', loginPage(uid, params.client_id, 'Wrong username or password.'));
    }
    // Consent is given with the login: a grant for everything asked.
    const grant = new provider.Grant({ accountId: username, clientId: params.client_id });
    grant.addOIDCScope(String(params.scope || 'openid'));
    grant.addOIDCClaims(['sub', 'preferred_username', 'name', 'email', 'email_verified', 'groups']);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, {
      login: { accountId: username },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
  }
  return send(res, 405, 'text/plain', 'method not allowed');
}

// ------------------------------------------------------------------------------ test hooks

function b64url(input) {
  return Buffer.from(input).toString('base64url');
}

function signToken(claims, mode, kidOverride) {
  const current = keys[0];
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: issuer, iat: now, exp: now + 600, ...claims };
  let header;
  let key;
  let hmacSecret;
  switch (mode) {
    case 'current':
      header = { alg: 'RS256', typ: 'JWT', kid: current.kid };
      key = crypto.createPrivateKey({ key: current, format: 'jwk' });
      break;
    case 'foreign':
    case 'foreign-same-kid': {
      const foreign = newRsaJwk();
      header = { alg: 'RS256', typ: 'JWT', kid: mode === 'foreign' ? foreign.kid : current.kid };
      key = crypto.createPrivateKey({ key: foreign, format: 'jwk' });
      break;
    }
    case 'none':
      header = { alg: 'none', typ: 'JWT', kid: current.kid };
      break;
    case 'hs256-pem':
      header = { alg: 'HS256', typ: 'JWT', kid: current.kid };
      hmacSecret = crypto.createPublicKey({ key: publicJwk(current), format: 'jwk' })
        .export({ type: 'spki', format: 'pem' });
      break;
    case 'hs256-jwk':
      header = { alg: 'HS256', typ: 'JWT', kid: current.kid };
      hmacSecret = JSON.stringify(publicJwk(current));
      break;
    default:
      throw new Error(`unknown mode ${mode}`);
  }
  if (kidOverride !== undefined) header.kid = kidOverride;
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  if (mode === 'none') return `${input}.`;
  if (hmacSecret !== undefined) {
    return `${input}.${crypto.createHmac('sha256', hmacSecret).update(input).digest('base64url')}`;
  }
  return `${input}.${crypto.sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

async function testHook(req, res, url) {
  const body = req.method === 'POST' ? await readBody(req) : '';
  const json = body ? JSON.parse(body) : {};
  switch (`${req.method} ${url.pathname}`) {
    case 'GET /__test/health':
      return sendJson(res, 200, { ok: true, kid: keys[0].kid, issuer });
    case 'POST /__test/rotate': {
      const previous = keys.map((k) => k.kid);
      const fresh = newRsaJwk();
      keys = url.searchParams.get('keep_old') === '0' ? [fresh] : [fresh, ...keys];
      saveKeys(keys);
      rebuild();
      return sendJson(res, 200, { kid: fresh.kid, previous });
    }
    case 'POST /__test/sign':
      return sendJson(res, 200, { token: signToken(json.claims || {}, json.mode || 'current', json.kid) });
    case 'POST /__test/config':
      if (json.id_token_ttl !== undefined) idTokenTtl = Number(json.id_token_ttl);
      if (json.clients !== undefined) clients = json.clients;
      rebuild();
      return sendJson(res, 200, { ok: true });
    default:
      return sendJson(res, 404, { error: 'no such test hook' });
  }
}

// ------------------------------------------------------------------------------ server

const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname.startsWith('/__test/')) return await testHook(req, res, url);
    if (url.pathname.startsWith('/interaction/')) return await interaction(req, res, url);
    return handler(req, res);
  } catch (error) {
    console.error(error);
    if (!res.headersSent) sendJson(res, 500, { error: String(error && error.message) });
    else res.end();
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc test provider ${issuer} listening (signing kid ${keys[0].kid})`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
