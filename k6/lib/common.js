// common.js: what every scenario shares besides signing: reading the environment, object
// sizes, unique bodies and keys, bucket creation in setup, and checks that log what failed.
//
// Must not: sleep (no think time anywhere), retry, or hide a failed request; thresholds are on
// errors only, so one bad response makes `k6 run` exit non-zero.

import { check } from 'k6';
import crypto from 'k6/crypto';
import exec from 'k6/execution';
import { s3Request, settings } from './sigv4.js';

export const KiB = 1024;
export const MiB = 1024 * 1024;

export function envInt(name, fallback) {
    const raw = __ENV[name];
    if (raw === undefined || raw === '') {
        return fallback;
    }
    const value = parseInt(raw, 10);
    if (!Number.isFinite(value) || String(value) !== raw.trim() || value < 0) {
        throw new Error(name + ' must be a non-negative integer, got ' + JSON.stringify(raw));
    }
    return value;
}

export function envString(name, fallback) {
    const raw = __ENV[name];
    return raw === undefined || raw === '' ? fallback : raw;
}

// "90s", "2m", "1m30s", "1h" -> seconds (k6's own duration syntax, whole units only).
export function durationSeconds(text) {
    const re = /(\d+)(h|m|s)/g;
    let total = 0;
    let consumed = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
        total += parseInt(m[1], 10) * { h: 3600, m: 60, s: 1 }[m[2]];
        consumed += m[0].length;
    }
    if (consumed === 0 || consumed !== text.length) {
        throw new Error('DURATION must look like 30s, 2m or 1m30s, got ' + JSON.stringify(text));
    }
    return total;
}

export const BUCKET = envString('BUCKET', 'k6-bench');

// Object sizes a run PUTs. SIZE_KIB=<n> for one size; SIZE_KIB=mix for the MaxIOFS-style mix
// from 1 KB to 5 MB, each size equally likely.
export const SIZE_MIX_BYTES = [1 * KiB, 10 * KiB, 100 * KiB, 1 * MiB, 3 * MiB, 5 * MiB];

export function sizePicker(defaultKib) {
    const raw = envString('SIZE_KIB', String(defaultKib));
    if (raw === 'mix') {
        return () => SIZE_MIX_BYTES[Math.floor(Math.random() * SIZE_MIX_BYTES.length)];
    }
    const bytes = envInt('SIZE_KIB', defaultKib) * KiB;
    return () => bytes;
}

// Fresh random bytes for every object, so nothing in the path can deduplicate or compress.
export function randomBody(sizeBytes) {
    return crypto.randomBytes(sizeBytes);
}

export function randomHex(byteCount) {
    return crypto.hexEncode(crypto.randomBytes(byteCount));
}

// A random (version 4 shaped) UUID.
export function uuid4() {
    const h = randomHex(16);
    const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
    return (
        h.slice(0, 8) + '-' + h.slice(8, 12) + '-4' + h.slice(13, 16) + '-' + variant +
        h.slice(17, 20) + '-' + h.slice(20, 32)
    );
}

// A key prefix unique to this run and VU, so concurrent runs and VUs never collide.
export function vuPrefix(scenario) {
    return scenario + '/' + RUN_ID + '/vu' + exec.vu.idInTest + '/';
}

// Keeps runs apart (the VU id keeps VUs apart). Each VU evaluates this at its own init, so
// VUs of one run may see different values; nothing relies on them being equal.
const RUN_ID = envString('RUN_ID', String(Date.now()));

// Up to this many failures are logged per VU: enough to see the pattern, not a flood.
const FAILURE_LOG_PER_VU = 5;
let failuresLogged = 0;

function logFailure(name, res, reason) {
    if (failuresLogged >= FAILURE_LOG_PER_VU) {
        return;
    }
    failuresLogged += 1;
    let body = '';
    if (typeof res.body === 'string') {
        body = res.body.slice(0, 400);
    } else if (res.body) {
        body = '(' + res.body.byteLength + ' bytes)';
    }
    console.error(
        name + ' failed (' + reason + '): ' + res.request.method + ' ' + res.request.url +
        ' -> ' + res.status + ' ' + (res.error || '') + ' ' + body,
    );
}

// check() with one named condition per entry; logs the request when any fails.
// conditions: { label: (res) => bool }.
export function checkResponse(name, res, conditions) {
    const named = {};
    let firstFailed = null;
    for (const label of Object.keys(conditions)) {
        named[name + ': ' + label] = (r) => {
            const ok = conditions[label](r);
            if (!ok && firstFailed === null) {
                firstFailed = label;
            }
            return ok;
        };
    }
    const ok = check(res, named);
    if (!ok) {
        logFailure(name, res, firstFailed);
    }
    return ok;
}

export function statusIs(...statuses) {
    return (r) => statuses.indexOf(r.status) !== -1;
}

// Creates the bucket unless it exists (200 created, 409 already owned are both fine).
export function ensureBucket(bucket) {
    let body = null;
    if (settings.region !== 'us-east-1') {
        body =
            '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
            '<LocationConstraint>' + settings.region + '</LocationConstraint>' +
            '</CreateBucketConfiguration>';
    }
    const res = s3Request('PUT', bucket, '', body, {
        name: 'CreateBucket',
        expectedStatuses: [200, 409],
    });
    const ok = checkResponse('CreateBucket', res, { 'status 200 or 409': statusIs(200, 409) });
    if (!ok) {
        throw new Error('cannot create bucket ' + bucket + ': ' + res.status + ' ' + res.body);
    }
}

// Thresholds on errors only: every check passes and no request fails.
export const ERROR_THRESHOLDS = {
    checks: ['rate==1.0'],
    http_req_failed: ['rate==0'],
};

// Escapes text for an XML element body.
export function xmlEscape(text) {
    return String(text)
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;')
        .replace(/'/g, '&apos;');
}

// Number of non-overlapping occurrences of needle in haystack.
export function countOf(haystack, needle) {
    let count = 0;
    let at = haystack.indexOf(needle);
    while (at !== -1) {
        count += 1;
        at = haystack.indexOf(needle, at + needle.length);
    }
    return count;
}
