// upload.js: PUT fresh objects as fast as VUS connections allow (no think time).
//
// Env: VUS (16), DURATION (30s), SIZE_KIB (1024; "mix" for 1 KB..5 MB), BUCKET (k6-bench),
// SIGNED_PAYLOAD=1 to hash bodies into x-amz-content-sha256, VERIFY=1 to compare each ETag
// with the body's MD5 (costs client CPU). Endpoint and keys: see lib/sigv4.js.

import crypto from 'k6/crypto';
import {
    BUCKET, ERROR_THRESHOLDS, checkResponse, ensureBucket, envInt, envString, randomBody,
    sizePicker, statusIs, vuPrefix,
} from './lib/common.js';
import { s3Request } from './lib/sigv4.js';

const SIGNED = envString('SIGNED_PAYLOAD', '0') === '1';
const VERIFY = envString('VERIFY', '0') === '1';
const nextSize = sizePicker(1024);

export const options = {
    scenarios: {
        upload: {
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

let sequence = 0;

export default function () {
    const body = randomBody(nextSize());
    const key = vuPrefix('upload') + 'obj-' + sequence;
    sequence += 1;
    const res = s3Request('PUT', BUCKET, key, body, {
        name: 'PutObject',
        signPayload: SIGNED,
        headers: { 'content-type': 'application/octet-stream' },
    });
    const conditions = {
        'status 200': statusIs(200),
        'ETag present': (r) => Boolean(r.headers['Etag']),
    };
    if (VERIFY) {
        const etag = '"' + crypto.md5(body, 'hex') + '"';
        conditions['ETag is MD5 of body'] = (r) => r.headers['Etag'] === etag;
    }
    checkResponse('PutObject', res, conditions);
}
