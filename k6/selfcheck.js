// selfcheck.js: signs AWS's documented S3 example (GET /test.txt, Range: bytes=0-9, on
// 2013-05-24) with lib/sigv4.js and compares with the documented signature, plus a few URI
// encoding cases. Needs no server:  k6 run k6/selfcheck.js  (exit 0 means it matched).
// SELFCHECK_SECRET=<other key> signs with another secret instead, which must fail (exit 99).

import { check } from 'k6';
import { selfCheck } from './lib/sigv4.js';

export const options = {
    vus: 1,
    iterations: 1,
    thresholds: { checks: ['rate==1.0'] },
};

export default function () {
    const result = selfCheck(__ENV.SELFCHECK_SECRET || '');
    const ok = check(result, {
        'sigv4: AWS GET /test.txt example signature matches': (r) => r.got === r.want,
        'sigv4: URI and query encoding cases': (r) => r.failures.length === 0,
    });
    if (!ok) {
        console.error(
            'got  ' + result.got + '\nwant ' + result.want + '\n' + result.failures.join('\n'),
        );
    }
}
