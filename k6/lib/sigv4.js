// sigv4.js: a small AWS Signature Version 4 signer for S3, and the request helper every
// scenario uses.
//
// Owns: canonical request building (URI and query encoding per AWS), the signing-key chain,
// the Authorization header, and `s3Request`, which sends one path-style S3 request.
// Must not: import remote modules (the suite runs without network), sleep, or retry; a
// scenario measures the server, so every request goes out exactly once.
//
// Settings come from the environment (k6 passes it through __ENV):
//   S3_ENDPOINT   http://127.0.0.1:9000 when unset; path-style URLs are built on it
//   S3_ACCESS_KEY, S3_SECRET_KEY   required
//   S3_REGION     us-east-1 when unset
//
// Main exports: s3Request, signRequest, uriEncode, canonicalQuery, selfCheck.

import crypto from 'k6/crypto';
import http from 'k6/http';

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

// Percent-encode every byte except A-Za-z0-9 - . _ ~ (and "/" when keepSlash), with uppercase
// hex, as the canonical request demands. encodeURIComponent already produces UTF-8 bytes and
// uppercase hex but leaves ! ' ( ) * alone, so those are encoded here.
export function uriEncode(text, keepSlash) {
    const encoded = encodeURIComponent(String(text)).replace(
        /[!'()*]/g,
        (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
    );
    return keepSlash ? encoded.replace(/%2F/g, '/') : encoded;
}

// The canonical query string: names and values encoded, sorted by name then value. The same
// string is sent on the wire, so the server sees exactly what was signed.
export function canonicalQuery(query) {
    if (!query) {
        return '';
    }
    const pairs = [];
    for (const name of Object.keys(query)) {
        const value = query[name];
        const values = Array.isArray(value) ? value : [value];
        for (const v of values) {
            const text = v === null || v === undefined ? '' : v;
            pairs.push([uriEncode(name, false), uriEncode(text, false)]);
        }
    }
    const order = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
    pairs.sort((a, b) => order(a[0], b[0]) || order(a[1], b[1]));
    return pairs.map((p) => p[0] + '=' + p[1]).join('&');
}

// "2013-05-24T00:00:00.000Z" -> "20130524T000000Z".
export function amzDateOf(date) {
    return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

// The signing key depends only on secret, day and region: one per VU and day, not one per request.
const signingKeyCache = {};

function signingKey(secretKey, day, region) {
    const id = day + '/' + region + '/' + secretKey;
    let key = signingKeyCache[id];
    if (key === undefined) {
        const kDate = crypto.hmac('sha256', 'AWS4' + secretKey, day, 'binary');
        const kRegion = crypto.hmac('sha256', kDate, region, 'binary');
        const kService = crypto.hmac('sha256', kRegion, 's3', 'binary');
        key = crypto.hmac('sha256', kService, 'aws4_request', 'binary');
        signingKeyCache[id] = key;
    }
    return key;
}

// Signs one request and returns the Authorization header value.
//   req.method, req.path (already canonical: encoded, starting with "/"), req.query (object),
//   req.headers (lowercase names; must hold host, x-amz-date and x-amz-content-sha256),
//   req.signedHeaders (lowercase names to sign; default all of req.headers),
//   req.accessKey, req.secretKey, req.region.
export function signRequest(req) {
    const amzDate = req.headers['x-amz-date'];
    const payloadHash = req.headers['x-amz-content-sha256'];
    const names = (req.signedHeaders || Object.keys(req.headers))
        .map((n) => n.toLowerCase())
        .sort();
    const canonicalHeaders = names
        .map((n) => n + ':' + String(req.headers[n]).trim().replace(/\s+/g, ' ') + '\n')
        .join('');
    const signedHeaders = names.join(';');
    const canonicalRequest = [
        req.method,
        req.path,
        canonicalQuery(req.query),
        canonicalHeaders,
        signedHeaders,
        payloadHash,
    ].join('\n');
    const day = amzDate.slice(0, 8);
    const scope = day + '/' + req.region + '/s3/aws4_request';
    const stringToSign = [
        'AWS4-HMAC-SHA256',
        amzDate,
        scope,
        crypto.sha256(canonicalRequest, 'hex'),
    ].join('\n');
    const key = signingKey(req.secretKey, day, req.region);
    const signature = crypto.hmac('sha256', key, stringToSign, 'hex');
    return (
        'AWS4-HMAC-SHA256 Credential=' + req.accessKey + '/' + scope +
        ', SignedHeaders=' + signedHeaders + ', Signature=' + signature
    );
}

// --------------------------------------------------------------------------- environment

function endpointParts(endpoint) {
    const m = /^(https?):\/\/([^/?#]+)\/?$/.exec(endpoint);
    if (m === null) {
        throw new Error(
            'S3_ENDPOINT must look like http://host:port, got ' + JSON.stringify(endpoint),
        );
    }
    return { base: m[1] + '://' + m[2], host: m[2] };
}

const ENDPOINT = endpointParts(__ENV.S3_ENDPOINT || 'http://127.0.0.1:9000');

export const settings = {
    endpoint: ENDPOINT.base,
    host: ENDPOINT.host,
    accessKey: __ENV.S3_ACCESS_KEY || '',
    secretKey: __ENV.S3_SECRET_KEY || '',
    region: __ENV.S3_REGION || 'us-east-1',
};

function requireKeys() {
    if (!settings.accessKey || !settings.secretKey) {
        throw new Error('set S3_ACCESS_KEY and S3_SECRET_KEY (see k6/README.md)');
    }
}

// --------------------------------------------------------------------------- requests

// Sends one signed, path-style S3 request and returns the k6 response.
//   bucket: '' for the service (ListBuckets); key: '' or null for bucket-level requests.
//   body: string, ArrayBuffer or null.
//   opts.query: object of query parameters ({ delete: '' } for "?delete").
//   opts.headers: extra headers, sent and signed (as the SDKs do: the server refuses
//     x-amz-* and Content-MD5 headers outside SignedHeaders); opts.signHeaders, when
//     given, names the ones to sign instead.
//   opts.signPayload: hash the body into x-amz-content-sha256 instead of UNSIGNED-PAYLOAD.
//   opts.name: the metric tag for this request kind (keeps time series few).
//   opts.responseType: 'text' (default), 'binary' or 'none'.
//   opts.expectedStatuses: statuses that are not failures for http_req_failed.
export function s3Request(method, bucket, key, body, opts) {
    requireKeys();
    const o = opts || {};
    let path = '/';
    if (bucket) {
        path += uriEncode(bucket, false);
        if (key) {
            path += '/' + uriEncode(key, true);
        }
    }
    const payload = body === undefined ? null : body;
    const headers = {};
    for (const name of Object.keys(o.headers || {})) {
        headers[name.toLowerCase()] = o.headers[name];
    }
    headers['host'] = settings.host;
    headers['x-amz-date'] = amzDateOf(new Date());
    headers['x-amz-content-sha256'] = o.signPayload
        ? crypto.sha256(payload === null ? '' : payload, 'hex')
        : UNSIGNED_PAYLOAD;
    const extra = o.signHeaders || Object.keys(o.headers || {});
    const signed = ['host', 'x-amz-content-sha256', 'x-amz-date'].concat(
        extra.map((n) => n.toLowerCase()).filter((n) => !['host', 'x-amz-content-sha256', 'x-amz-date'].includes(n)),
    );
    headers['authorization'] = signRequest({
        method: method,
        path: path,
        query: o.query,
        headers: headers,
        signedHeaders: signed,
        accessKey: settings.accessKey,
        secretKey: settings.secretKey,
        region: settings.region,
    });
    // k6 (Go) sets Host from the URL itself; sending it again is harmless but redundant.
    delete headers['host'];
    const query = canonicalQuery(o.query);
    const url = settings.endpoint + path + (query ? '?' + query : '');
    const params = {
        headers: headers,
        tags: { name: o.name || method + ' ' + (key ? 'object' : bucket ? 'bucket' : 'service') },
        responseType: o.responseType || 'text',
    };
    if (o.expectedStatuses) {
        params.responseCallback = http.expectedStatuses(...o.expectedStatuses);
    }
    return http.request(method, url, payload, params);
}

// --------------------------------------------------------------------------- self-check

// AWS's documented S3 example "GET Object" (Signature Version 4, header auth): GET /test.txt
// on examplebucket with Range: bytes=0-9, signed payload of the empty body.
const AWS_EXAMPLE = {
    method: 'GET',
    path: '/test.txt',
    query: {},
    headers: {
        host: 'examplebucket.s3.amazonaws.com',
        range: 'bytes=0-9',
        'x-amz-content-sha256': EMPTY_SHA256,
        'x-amz-date': '20130524T000000Z',
    },
    accessKey: 'AKIAIOSFODNN7EXAMPLE',
    secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    region: 'us-east-1',
};
const AWS_EXAMPLE_AUTHORIZATION =
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ' +
    'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, ' +
    'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';

// Encodings worked out by hand from the rule (UTF-8 bytes, uppercase hex, unreserved kept).
const URI_ENCODE_CASES = [
    ['a b/c', true, 'a%20b/c'],
    ['a b/c', false, 'a%20b%2Fc'],
    ["Az09-._~!*'()+=&?#%", false, 'Az09-._~%21%2A%27%28%29%2B%3D%26%3F%23%25'],
    ['\u00fc\u20ac', false, '%C3%BC%E2%82%AC'],
];

// Returns { ok, got, want, failures }: the AWS example's Authorization header recomputed,
// and any URI encoding case that went wrong. secretKey, when given, replaces the example's
// secret: the result must then not match, which shows the check can fail.
export function selfCheck(secretKey) {
    const example = Object.assign({}, AWS_EXAMPLE);
    if (secretKey) {
        example.secretKey = secretKey;
    }
    const got = signRequest(example);
    const failures = [];
    for (const [input, keepSlash, want] of URI_ENCODE_CASES) {
        const out = uriEncode(input, keepSlash);
        if (out !== want) {
            failures.push(JSON.stringify(input) + ' -> ' + out + ' (want ' + want + ')');
        }
    }
    const query = canonicalQuery({ prefix: 'a b', 'list-type': 2, delete: '' });
    if (query !== 'delete=&list-type=2&prefix=a%20b') {
        failures.push('canonical query ' + query);
    }
    return {
        ok: got === AWS_EXAMPLE_AUTHORIZATION && failures.length === 0,
        got: got,
        want: AWS_EXAMPLE_AUTHORIZATION,
        failures: failures,
    };
}
