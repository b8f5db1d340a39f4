// veeam.js: a Veeam-like backup ingest. Many VUs (64 by default) PUT 1-4 MiB blocks with no
// think time under keys shaped like a Veeam object-storage repository
// (Veeam/Archive/<job>/<backup uuid>/blocks/<xx>/<block id>.blk), and every DELETE_EVERY
// iterations each VU retires the blocks it wrote since its last retirement with DeleteObjects
// (up to 1000 keys per request, Content-MD5 as S3 requires, signed payload).
//
// Env: VUS (64), DURATION (60s), SIZE_KIB (fixed size; unset: uniform 1024..4096 KiB),
// BUCKET (k6-bench), JOB (k6-job), DELETE_EVERY (10 iterations; 1000 gives full batches).
// Live data peaks near VUS x DELETE_EVERY x 2.5 MiB (1.6 GiB with the defaults).

import crypto from 'k6/crypto';
import { Counter } from 'k6/metrics';
import {
    BUCKET, ERROR_THRESHOLDS, KiB, MiB, checkResponse, countOf, ensureBucket, envInt, envString,
    randomBody, randomHex, statusIs, uuid4, xmlEscape,
} from './lib/common.js';
import { s3Request } from './lib/sigv4.js';

// S3 accepts at most 1000 keys per DeleteObjects request.
const DELETE_BATCH_KEYS_MAX = 1000;
const DELETE_EVERY = envInt('DELETE_EVERY', 10);
const JOB = envString('JOB', 'k6-job');
const FIXED_SIZE_BYTES = envInt('SIZE_KIB', 0) * KiB;

// Keys the server reported deleted, so a summary shows the retirement path really ran.
const keysDeleted = new Counter('veeam_keys_deleted');

export const options = {
    scenarios: {
        veeam: {
            executor: 'constant-vus',
            vus: envInt('VUS', 64),
            duration: envString('DURATION', '60s'),
        },
    },
    thresholds: ERROR_THRESHOLDS,
};

export function setup() {
    if (DELETE_EVERY < 1) {
        throw new Error('DELETE_EVERY must be at least 1');
    }
    ensureBucket(BUCKET);
}

function blockSize() {
    if (FIXED_SIZE_BYTES > 0) {
        return FIXED_SIZE_BYTES;
    }
    // Uniform over 1..4 MiB, whole KiB.
    return MiB + Math.floor(Math.random() * (3 * 1024 + 1)) * KiB;
}

// One backup chain per VU; filled in at the first iteration (VU ids are not known at init).
let chainPrefix = null;
let iteration = 0;
const pending = [];

function putBlock() {
    const id = randomHex(16);
    const key =
        chainPrefix + id.slice(0, 2) + '/' + id + '.' + String(iteration).padStart(8, '0') + '.blk';
    const res = s3Request('PUT', BUCKET, key, randomBody(blockSize()), {
        name: 'PutObject',
        headers: { 'content-type': 'application/octet-stream' },
    });
    if (checkResponse('PutObject', res, { 'status 200': statusIs(200) })) {
        pending.push(key);
    }
}

function deleteBatch(keys) {
    let xml = '<?xml version="1.0" encoding="UTF-8"?>' +
        '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>false</Quiet>';
    for (const key of keys) {
        xml += '<Object><Key>' + xmlEscape(key) + '</Key></Object>';
    }
    xml += '</Delete>';
    const res = s3Request('POST', BUCKET, '', xml, {
        name: 'DeleteObjects',
        query: { delete: '' },
        signPayload: true,
        headers: {
            'content-md5': crypto.md5(xml, 'base64'),
            'content-type': 'application/xml',
        },
    });
    const deleted = typeof res.body === 'string' ? countOf(res.body, '<Deleted>') : 0;
    keysDeleted.add(deleted);
    checkResponse('DeleteObjects', res, {
        'status 200': statusIs(200),
        'no per-key errors': (r) => typeof r.body === 'string' && r.body.indexOf('<Error>') === -1,
        'every key reported deleted': () => deleted === keys.length,
    });
}

export default function () {
    if (chainPrefix === null) {
        chainPrefix = 'Veeam/Archive/' + JOB + '/' + uuid4() + '/blocks/';
    }
    iteration += 1;
    putBlock();
    if (iteration % DELETE_EVERY === 0) {
        while (pending.length > 0) {
            deleteBatch(pending.splice(0, DELETE_BATCH_KEYS_MAX));
        }
    }
}
