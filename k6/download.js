// download.js: setup PUTs a set of objects, then VUs GET random ones as fast as they can (no
// think time) and check every body's length (and MD5 with VERIFY=1).
//
// Env: VUS (16), DURATION (30s), SIZE_KIB (1024; "mix" for 1 KB..5 MB), BUCKET (k6-bench),
// OBJECTS (64, how many setup uploads), VERIFY=1 to compare each body's MD5 (client CPU).

import crypto from 'k6/crypto';
import {
    BUCKET, ERROR_THRESHOLDS, checkResponse, ensureBucket, envInt, envString, randomBody,
    sizePicker, statusIs, vuPrefix,
} from './lib/common.js';
import { s3Request } from './lib/sigv4.js';

const OBJECTS = envInt('OBJECTS', 64);
const VERIFY = envString('VERIFY', '0') === '1';
const nextSize = sizePicker(1024);

export const options = {
    scenarios: {
        download: {
            executor: 'constant-vus',
            vus: envInt('VUS', 16),
            duration: envString('DURATION', '30s'),
        },
    },
    thresholds: ERROR_THRESHOLDS,
    // Uploading the set is part of setup, not of the measured run.
    setupTimeout: '10m',
};

export function setup() {
    if (OBJECTS < 1) {
        throw new Error('OBJECTS must be at least 1');
    }
    ensureBucket(BUCKET);
    const prefix = vuPrefix('download');
    const objects = [];
    for (let i = 0; i < OBJECTS; i++) {
        const key = prefix + 'obj-' + i;
        const body = randomBody(nextSize());
        const res = s3Request('PUT', BUCKET, key, body, { name: 'PutObject (setup)' });
        const ok = checkResponse('PutObject (setup)', res, { 'status 200': statusIs(200) });
        if (!ok) {
            throw new Error('setup upload of ' + key + ' failed with ' + res.status);
        }
        objects.push({ key: key, size: body.byteLength, md5: crypto.md5(body, 'hex') });
    }
    return { objects: objects };
}

export default function (data) {
    const object = data.objects[Math.floor(Math.random() * data.objects.length)];
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
