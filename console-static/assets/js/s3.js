// S3 from the browser: requests signed with AWS Signature Version 4 (WebCrypto) using the
// temporary credentials of the console session (POST /api/v1/auth/s3-credentials), sent to the
// console port's /s3 proxy (same origin, so the strict Content-Security-Policy holds); share
// links are presigned for the S3 endpoint itself. Nothing here is a security boundary: the
// server authorises every request as it would from any client.

import { post } from "./api.js";

let credentials = null;

async function session() {
  if (!credentials || credentials.expires_ms - Date.now() < 60_000) {
    credentials = await post("/auth/s3-credentials");
  }
  return credentials;
}

export function dropCredentials() {
  credentials = null;
}

const encoder = new TextEncoder();

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(data) {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

export async function sha256Base64(data) {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return btoa(String.fromCharCode(...digest));
}

async function hmac(key, text) {
  const cryptoKey = await crypto.subtle.importKey(
    "raw", typeof key === "string" ? encoder.encode(key) : key,
    { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(text));
}

/** RFC 3986 encoding, as SigV4 wants it (everything but unreserved characters). */
export function uriEncode(text, keepSlash = false) {
  const encoded = encodeURIComponent(text).replace(/[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  return keepSlash ? encoded.replace(/%2F/g, "/") : encoded;
}

/** `/bucket/key` with the key's segments encoded. */
export function objectPath(bucket, key = "") {
  return "/" + uriEncode(bucket) + (key ? "/" + uriEncode(key, true) : "");
}

function amzDate(now) {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

function canonicalQuery(query) {
  return Object.keys(query).sort()
    .map((name) => `${uriEncode(name)}=${uriEncode(String(query[name]))}`).join("&");
}

async function signature(secret, date, region, stringToSign, service = "s3") {
  let key = await hmac("AWS4" + secret, date);
  key = await hmac(key, region);
  key = await hmac(key, service);
  key = await hmac(key, "aws4_request");
  return hex(await hmac(key, stringToSign));
}

/**
 * Signs a request for the /s3 proxy: returns { url, headers } for fetch or XMLHttpRequest.
 * `headers` given are sent and signed (lowercase names); the body's hash is `payloadHash`
 * (default UNSIGNED-PAYLOAD). `service` is "s3", or "iam"/"sts" for the IAM and STS query
 * APIs (which are on the S3 port too: POST / with a form body, its SHA-256 as payloadHash).
 */
export async function signed(method, path, query = {}, headers = {}, payloadHash = "UNSIGNED-PAYLOAD",
  service = "s3") {
  const creds = await session();
  const now = new Date();
  const stamp = amzDate(now);
  const date = stamp.slice(0, 8);
  const all = { ...headers, host: location.host, "x-amz-date": stamp,
    "x-amz-content-sha256": payloadHash, "x-amz-security-token": creds.session_token };
  const names = Object.keys(all).map((n) => n.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(all).map(([n, v]) => [n.toLowerCase(), String(v).trim()]));
  const canonicalHeaders = names.map((n) => `${n}:${lower[n]}\n`).join("");
  const signedHeaders = names.join(";");
  const queryText = canonicalQuery(query);
  const request = [method, path, queryText, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${creds.region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", stamp, scope, await sha256Hex(request)].join("\n");
  const sig = await signature(creds.secret_access_key, date, creds.region, toSign, service);
  const sent = { ...headers, "x-amz-date": stamp, "x-amz-content-sha256": payloadHash,
    "x-amz-security-token": creds.session_token,
    authorization: `AWS4-HMAC-SHA256 Credential=${creds.access_key_id}/${scope}, ` +
      `SignedHeaders=${signedHeaders}, Signature=${sig}` };
  return { url: `${creds.s3_proxy}${path}${queryText ? "?" + queryText : ""}`, headers: sent };
}

export class S3Error extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || `HTTP${status}`;
  }
}

async function failure(response) {
  const text = await response.text();
  const doc = text ? new DOMParser().parseFromString(text, "application/xml") : null;
  const pick = (tag) => doc?.getElementsByTagName(tag)[0]?.textContent || "";
  return new S3Error(response.status, pick("Code"), pick("Message"));
}

/** One signed S3 request through the proxy; resolves to the Response (throws S3Error). */
export async function s3(method, path, { query = {}, headers = {}, body, xmlBody } = {}) {
  let payloadHash = "UNSIGNED-PAYLOAD";
  if (xmlBody !== undefined) {
    body = xmlBody;
    payloadHash = await sha256Hex(xmlBody);
    headers = { ...headers, "content-type": "application/xml",
      "x-amz-checksum-sha256": await sha256Base64(xmlBody) };
  }
  const request = await signed(method, path, query, headers, payloadHash);
  const response = await fetch(request.url, { method, headers: request.headers, body, credentials: "omit" });
  if (!response.ok) throw await failure(response);
  // An empty body is read here: a response left unread counts as an aborted request in the
  // browser. A caller that wants the body reads it (text(), blob(), xml()) exactly once.
  if (response.headers.get("content-length") === "0" || method === "HEAD") await response.arrayBuffer();
  return response;
}

/** Parses an S3 XML answer. */
export async function xml(response) {
  return new DOMParser().parseFromString(await response.text(), "application/xml");
}

/** Text of the first `tag` under `node`. */
export const text = (node, tag) => node.getElementsByTagName(tag)[0]?.textContent ?? "";

/** Escapes text for an XML body. */
export const escapeXml = (value) => String(value).replace(/[<>&'"]/g,
  (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" }[c]));

/**
 * A presigned URL on the S3 endpoint itself (a share link, for any client): valid for
 * `expiresS` seconds, at most until the console session's credentials expire.
 */
export async function presign(method, bucket, key, expiresS) {
  const creds = await session();
  const endpoint = new URL(creds.s3_endpoint);
  const now = new Date();
  const stamp = amzDate(now);
  const date = stamp.slice(0, 8);
  const scope = `${date}/${creds.region}/s3/aws4_request`;
  const remainingS = Math.floor((creds.expires_ms - now.getTime()) / 1000);
  const expires = Math.max(1, Math.min(expiresS, remainingS, 604_800));
  const path = objectPath(bucket, key);
  const query = { "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": `${creds.access_key_id}/${scope}`, "X-Amz-Date": stamp,
    "X-Amz-Expires": String(expires), "X-Amz-Security-Token": creds.session_token,
    "X-Amz-SignedHeaders": "host" };
  const queryText = canonicalQuery(query);
  const request = [method, path, queryText, `host:${endpoint.host}\n`, "host", "UNSIGNED-PAYLOAD"].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", stamp, scope, await sha256Hex(request)].join("\n");
  const sig = await signature(creds.secret_access_key, date, creds.region, toSign);
  return { url: `${endpoint.origin}${path}?${queryText}&X-Amz-Signature=${sig}`, expiresS: expires };
}

/**
 * An IAM or STS query-API call (`service` "iam" or "sts"): POST / with the form parameters,
 * signed; resolves to the parsed XML answer (throws S3Error with IAM's code and message).
 */
export async function queryApi(service, action, parameters = {}) {
  const form = new URLSearchParams({ Action: action, Version: service === "iam" ? "2010-05-08" : "2011-06-15",
    ...parameters }).toString();
  const request = await signed("POST", "/", {}, { "content-type": "application/x-www-form-urlencoded" },
    await sha256Hex(form), service);
  const response = await fetch(request.url, { method: "POST", headers: request.headers, body: form,
    credentials: "omit" });
  if (!response.ok) throw await failure(response);
  return xml(response);
}
