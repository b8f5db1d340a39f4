// stress.js: ramps VUs from 0 up to VUS, holds, and ramps back down; every iteration PUTs a
// fresh object, GETs it back (checking its length, and MD5 with VERIFY=1) and DELETEs it, with
// no think time. Shows where latency bends as concurrency grows.
//
// Env: VUS (64, the peak), DURATION (60s, whole run: 40% ramp up, 40% hold, 20% ramp down),
// SIZE_KIB (64; "mix" for 1 KB..5 MB), BUCKET (k6-bench), VERIFY=1.

import crypto from 'k6/crypto';
import {
    BUCKET, ERROR_THRESHOLDS, checkResponse, durationSeconds, ensureBucket, envInt, envString,
    randomBody, sizePicker, statusIs, vuPrefix,
} from './lib/common.js';
import { s3Request } from './lib/sigv4.js';

const VERIFY = envString('VERIFY', '0') === '1';
const PEAK_VUS = envInt('VUS', 64);
const TOTAL_S = durationSeconds(envString('DURATION', '60s'));
const nextSize = sizePicker(64);

// Whole seconds, at least one each, so even a 3 s smoke run has all three stages.
const RAMP_UP_S = Math.max(1, Math.round(TOTAL_S * 0.4));
const HOLD_S = Math.max(1, Math.round(TOTAL_S * 0.4));
const RAMP_DOWN_S = Math.max(1, TOTAL_S - RAMP_UP_S - HOLD_S);

export const options = {
    scenarios: {
        stress: {
            executor: 'ramping-vus',
            startVUs: 0,
            stages: [
                { duration: RAMP_UP_S + 's', target: PEAK_VUS },
                { duration: HOLD_S + 's', target: PEAK_VUS },
                { duration: RAMP_DOWN_S + 's', target: 0 },
            ],
            // A VU leaving during ramp-down finishes its PUT/GET/DELETE first.
            gracefulRampDown: '30s',
        },
    },
    thresholds: ERROR_THRESHOLDS,
};

export function setup() {
    ensureBucket(BUCKET);
}

let sequence = 0;

export default function () {
    const key = vuPrefix('stress') + 'obj-' + sequence;
    sequence += 1;
    const body = randomBody(nextSize());
    const put = s3Request('PUT', BUCKET, key, body, { name: 'PutObject' });
    if (!checkResponse('PutObject', put, { 'status 200': statusIs(200) })) {
        return;
    }
    const get = s3Request('GET', BUCKET, key, null, { name: 'GetObject', responseType: 'binary' });
    const conditions = {
        'status 200': statusIs(200),
        'body length': (r) => r.body !== null && r.body.byteLength === body.byteLength,
    };
    if (VERIFY) {
        const md5 = crypto.md5(body, 'hex');
        conditions['body MD5'] = (r) => r.body !== null && crypto.md5(r.body, 'hex') === md5;
    }
    checkResponse('GetObject', get, conditions);
    const del = s3Request('DELETE', BUCKET, key, null, { name: 'DeleteObject' });
    checkResponse('DeleteObject', del, { 'status 204': statusIs(204) });
}
