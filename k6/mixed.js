// mixed.js: each iteration is one PUT, GET, LIST or DELETE, drawn by weight, with no think
// time. Every VU works in its own key prefix and remembers what it wrote, so each response can
// be checked exactly: GETs return the bytes PUT, LISTs return the VU's KeyCount, DELETEs 204.
// One key in four carries characters that need URI encoding (space, +, &, =, non-ASCII).
//
// Env: VUS (16), DURATION (30s), SIZE_KIB (64; "mix" for 1 KB..5 MB), BUCKET (k6-bench),
// MIX (get=50,put=30,list=15,delete=5), VERIFY=1 to compare GET bodies' MD5 (client CPU).

import crypto from 'k6/crypto';
import {
    BUCKET, ERROR_THRESHOLDS, checkResponse, ensureBucket, envInt, envString, randomBody,
    sizePicker, statusIs, vuPrefix,
} from './lib/common.js';
import { s3Request } from './lib/sigv4.js';

const VERIFY = envString('VERIFY', '0') === '1';
const nextSize = sizePicker(64);
const LIST_PAGE_KEYS = 100;

function parseMix(text) {
    const weights = { get: 0, put: 0, list: 0, delete: 0 };
    for (const part of text.split(',')) {
        const m = /^\s*(get|put|list|delete)\s*=\s*(\d+)\s*$/.exec(part);
        if (m === null) {
            throw new Error(
                'MIX must look like get=50,put=30,list=15,delete=5, got ' + JSON.stringify(text),
            );
        }
        weights[m[1]] = parseInt(m[2], 10);
    }
    const total = weights.get + weights.put + weights.list + weights.delete;
    if (weights.put === 0 || total === 0) {
        throw new Error('MIX needs a put weight above 0 (the other operations need objects)');
    }
    return { weights: weights, total: total };
}

const MIX = parseMix(envString('MIX', 'get=50,put=30,list=15,delete=5'));

export const options = {
    scenarios: {
        mixed: {
            executor: 'constant-vus',
            vus: envInt('VUS', 16),
            duration: envString('DURATION', '30s'),
        },
    },
    thresholds: ERROR_THRESHOLDS,
};

export function setup() {
    ensureBucket(BUCKET);
}

// This VU's live objects: { key, size, md5 }.
const objects = [];
let sequence = 0;
let prefix = null;

function pickOperation() {
    let roll = Math.random() * MIX.total;
    for (const op of ['get', 'put', 'list', 'delete']) {
        roll -= MIX.weights[op];
        if (roll < 0) {
            return objects.length === 0 ? 'put' : op;
        }
    }
    return 'put';
}

function put() {
    const key = prefix + 'obj-' + sequence + (sequence % 4 === 0 ? ' sp+ü&=.bin' : '.bin');
    sequence += 1;
    const body = randomBody(nextSize());
    const res = s3Request('PUT', BUCKET, key, body, { name: 'PutObject' });
    if (checkResponse('PutObject', res, { 'status 200': statusIs(200) })) {
        const md5 = VERIFY ? crypto.md5(body, 'hex') : '';
        objects.push({ key: key, size: body.byteLength, md5: md5 });
    }
}

function get() {
    const object = objects[Math.floor(Math.random() * objects.length)];
    const res = s3Request('GET', BUCKET, object.key, null, {
        name: 'GetObject',
        responseType: 'binary',
    });
    const conditions = {
        'status 200': statusIs(200),
        'body length': (r) => r.body !== null && r.body.byteLength === object.size,
    };
    if (VERIFY) {
        conditions['body MD5'] = (r) => r.body !== null && crypto.md5(r.body, 'hex') === object.md5;
    }
    checkResponse('GetObject', res, conditions);
}

function list() {
    const res = s3Request('GET', BUCKET, '', null, {
        name: 'ListObjectsV2',
        query: { 'list-type': '2', prefix: prefix, 'max-keys': String(LIST_PAGE_KEYS) },
    });
    const want = Math.min(objects.length, LIST_PAGE_KEYS);
    checkResponse('ListObjectsV2', res, {
        'status 200': statusIs(200),
        'KeyCount is what this VU wrote': (r) =>
            typeof r.body === 'string' &&
            r.body.indexOf('<KeyCount>' + want + '</KeyCount>') !== -1,
    });
}

function del() {
    const at = Math.floor(Math.random() * objects.length);
    const object = objects[at];
    objects.splice(at, 1);
    const res = s3Request('DELETE', BUCKET, object.key, null, { name: 'DeleteObject' });
    checkResponse('DeleteObject', res, { 'status 204': statusIs(204) });
}

export default function () {
    if (prefix === null) {
        prefix = vuPrefix('mixed');
    }
    const op = pickOperation();
    if (op === 'put') {
        put();
    } else if (op === 'get') {
        get();
    } else if (op === 'list') {
        list();
    } else {
        del();
    }
}
