// Shared by the bucket pages (buckets.js, browser*.js, bucket-settings*.js): S3 errors in
// words, bucket-name rules, small XML helpers, hashes to the bucket pages, and the bucket's
// versioning and object-lock state.

import { s3, xml, text, objectPath, escapeXml } from "../s3.js";
import { explain } from "../ui.js";

export const S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/";

/** Words for the S3 errors people meet on these pages; anything else as the server said it. */
export function s3Words(error) {
  const words = {
    AccessDenied: "You are not allowed to do this" +
      (error?.message && error.message !== "Access Denied" ? `: ${error.message}` : "."),
    BucketNotEmpty: "The bucket is not empty: delete its objects (and, in a versioned bucket, " +
      "every old version and delete marker) first.",
    BucketAlreadyExists: "That name is taken: bucket names are shared by everyone on this server.",
    BucketAlreadyOwnedByYou: "You already have a bucket with that name.",
    InvalidBucketName: "That is not a valid bucket name.",
    NoSuchBucket: "There is no such bucket (it may have been deleted).",
    NoSuchKey: "The object is gone (deleted or moved).",
    NoSuchUpload: "The upload is gone on the server (aborted or completed elsewhere).",
    NoSuchVersion: "That version does not exist any more.",
    TooManyBuckets: "You have reached the number of buckets you may own.",
    QuotaExceeded: "This would go over a quota" + (error?.message ? `: ${error.message}` : "."),
    EntityTooLarge: "The object is too large for this operation.",
    SlowDown: "The server is busy; try again in a moment.",
    ServiceUnavailable: "The server is not available right now; try again in a moment.",
    InvalidObjectState: "The object's state does not allow this" +
      (error?.message ? `: ${error.message}` : "."),
  };
  return words[error?.code] || explain(error);
}

/** Why `name` cannot be a bucket name, in words; "" when it can. */
export function bucketNameProblem(name) {
  if (!name) return "Enter a name.";
  if (name.length < 3) return "A bucket name has at least 3 characters.";
  if (name.length > 63) return "A bucket name has at most 63 characters.";
  if (/[A-Z]/.test(name)) return "Use lowercase letters only.";
  if (/[^a-z0-9.-]/.test(name)) return "Use only lowercase letters, digits, hyphens (-) and dots (.).";
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return "Start and end with a letter or a digit.";
  if (name.includes("..")) return "Two dots may not follow each other.";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return "A bucket name may not look like an IP address.";
  if (name.startsWith("xn--") || name.startsWith("sthree-")) return "A bucket name may not start with “xn--” or “sthree-”.";
  if (name.endsWith("-s3alias") || name.endsWith("--ol-s3")) return "A bucket name may not end with “-s3alias” or “--ol-s3”.";
  return "";
}

/** The children of `node` named `tag` (direct or not). */
export const all = (node, tag) => [...node.getElementsByTagName(tag)];

/** The direct children of `node` named `tag`. */
export const children = (node, tag) => [...node.children].filter((child) => child.localName === tag);

/** Reads what is left of a response's body (s3() already read empty ones). */
export async function drain(response) {
  if (!response.bodyUsed) await response.arrayBuffer();
}

/** `<tag>value</tag>` with the value escaped. */
export const element = (tag, value) => `<${tag}>${escapeXml(value)}</${tag}>`;

/** Reads a bucket sub-resource (`versioning`, `lifecycle`...): the parsed XML, or null when the
 *  server answers one of the `absent` codes (no configuration). */
export async function bucketConfig(bucket, resource, absent = []) {
  try {
    return await xml(await s3("GET", objectPath(bucket), { query: { [resource]: "" } }));
  } catch (error) {
    if (absent.includes(error.code)) return null;
    throw error;
  }
}

/** Writes a bucket sub-resource with an XML body. */
export async function putBucketConfig(bucket, resource, body) {
  const response = await s3("PUT", objectPath(bucket), { query: { [resource]: "" }, xmlBody: body });
  await drain(response);
}

/** Deletes a bucket sub-resource. */
export async function deleteBucketConfig(bucket, resource) {
  const response = await s3("DELETE", objectPath(bucket), { query: { [resource]: "" } });
  await drain(response);
}

/** Versioning status: "Enabled", "Suspended" or "" (never enabled). */
export async function versioningStatus(bucket) {
  const doc = await bucketConfig(bucket, "versioning");
  return text(doc, "Status");
}

export async function setVersioning(bucket, status) {
  await putBucketConfig(bucket, "versioning",
    `<VersioningConfiguration xmlns="${S3_NS}">${element("Status", status)}</VersioningConfiguration>`);
}

/** The object-lock configuration, or null when lock is off. Only asked when versioning is on
 *  (lock needs it), so that ordinary buckets cost no failed request. */
export async function objectLock(bucket, versioning) {
  if (versioning !== "Enabled") return null;
  const doc = await bucketConfig(bucket, "object-lock", ["ObjectLockConfigurationNotFoundError"]);
  if (!doc || text(doc, "ObjectLockEnabled") !== "Enabled") return null;
  return {
    mode: text(doc, "Mode"),
    days: text(doc, "Days"),
    years: text(doc, "Years"),
  };
}

/** `#/buckets/<bucket>` with an optional prefix. */
export function bucketHash(bucket, prefix = "") {
  return `#/buckets/${encodeURIComponent(bucket)}` + (prefix ? `?prefix=${encodeURIComponent(prefix)}` : "");
}

export const settingsHash = (bucket) => `#/buckets/${encodeURIComponent(bucket)}/settings`;

/** A number of seconds or hours in words: "3 h 20 min", "45 min", "2 days 4 h". */
export function duration(seconds) {
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${Math.max(1, minutes)} min`;
  const hours = Math.floor(minutes / 60), rest = minutes % 60;
  if (hours < 48) return rest ? `${hours} h ${rest} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} days ${hours % 24} h` : `${days} days`;
}
