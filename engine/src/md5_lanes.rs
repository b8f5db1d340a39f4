//! MD5 in SIMD lanes: the ETag digest of up to 16 streams computed at once,
//! one stream per 32-bit lane (AVX-512: 16 lanes, AVX2: 8), so that a shard
//! hashing many uploads pays a fraction of one MD5 per byte. Results are the
//! same as the scalar MD5's (RFC 1321), which the tests check against the
//! `md-5` crate.
//!
//! Owns: [`Md5Stream`] (a stream's state: chaining value, length, partial
//! block) and [`update_many`], which hashes the whole blocks of several
//! streams together. The SIMD intrinsics are this module's only `unsafe`,
//! behind runtime CPU detection (scalar code otherwise).
//!
//! Lanes advance in lockstep, so a batch runs the blocks all its streams have
//! in common; a stream with more continues with the others that still have
//! blocks, or alone in scalar code once it is the last.

#![allow(unsafe_code)]

/// MD5's additive constants (RFC 1321: the integer part of 2^32 * |sin(i + 1)|).
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

const STATE_INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
const BLOCK_BYTES: usize = 64;

/// The 64 steps of a block, each `a = b + rotl(a + f(b, c, d) + m[g] + k[i], s)`
/// with the registers renamed one place each step (RFC 1321's order).
macro_rules! md5_64_steps {
    ($step:ident, $a:ident, $b:ident, $c:ident, $d:ident) => {
        $step!(F, $a, $b, $c, $d, 0, 0, 7);
        $step!(F, $d, $a, $b, $c, 1, 1, 12);
        $step!(F, $c, $d, $a, $b, 2, 2, 17);
        $step!(F, $b, $c, $d, $a, 3, 3, 22);
        $step!(F, $a, $b, $c, $d, 4, 4, 7);
        $step!(F, $d, $a, $b, $c, 5, 5, 12);
        $step!(F, $c, $d, $a, $b, 6, 6, 17);
        $step!(F, $b, $c, $d, $a, 7, 7, 22);
        $step!(F, $a, $b, $c, $d, 8, 8, 7);
        $step!(F, $d, $a, $b, $c, 9, 9, 12);
        $step!(F, $c, $d, $a, $b, 10, 10, 17);
        $step!(F, $b, $c, $d, $a, 11, 11, 22);
        $step!(F, $a, $b, $c, $d, 12, 12, 7);
        $step!(F, $d, $a, $b, $c, 13, 13, 12);
        $step!(F, $c, $d, $a, $b, 14, 14, 17);
        $step!(F, $b, $c, $d, $a, 15, 15, 22);
        $step!(G, $a, $b, $c, $d, 1, 16, 5);
        $step!(G, $d, $a, $b, $c, 6, 17, 9);
        $step!(G, $c, $d, $a, $b, 11, 18, 14);
        $step!(G, $b, $c, $d, $a, 0, 19, 20);
        $step!(G, $a, $b, $c, $d, 5, 20, 5);
        $step!(G, $d, $a, $b, $c, 10, 21, 9);
        $step!(G, $c, $d, $a, $b, 15, 22, 14);
        $step!(G, $b, $c, $d, $a, 4, 23, 20);
        $step!(G, $a, $b, $c, $d, 9, 24, 5);
        $step!(G, $d, $a, $b, $c, 14, 25, 9);
        $step!(G, $c, $d, $a, $b, 3, 26, 14);
        $step!(G, $b, $c, $d, $a, 8, 27, 20);
        $step!(G, $a, $b, $c, $d, 13, 28, 5);
        $step!(G, $d, $a, $b, $c, 2, 29, 9);
        $step!(G, $c, $d, $a, $b, 7, 30, 14);
        $step!(G, $b, $c, $d, $a, 12, 31, 20);
        $step!(H, $a, $b, $c, $d, 5, 32, 4);
        $step!(H, $d, $a, $b, $c, 8, 33, 11);
        $step!(H, $c, $d, $a, $b, 11, 34, 16);
        $step!(H, $b, $c, $d, $a, 14, 35, 23);
        $step!(H, $a, $b, $c, $d, 1, 36, 4);
        $step!(H, $d, $a, $b, $c, 4, 37, 11);
        $step!(H, $c, $d, $a, $b, 7, 38, 16);
        $step!(H, $b, $c, $d, $a, 10, 39, 23);
        $step!(H, $a, $b, $c, $d, 13, 40, 4);
        $step!(H, $d, $a, $b, $c, 0, 41, 11);
        $step!(H, $c, $d, $a, $b, 3, 42, 16);
        $step!(H, $b, $c, $d, $a, 6, 43, 23);
        $step!(H, $a, $b, $c, $d, 9, 44, 4);
        $step!(H, $d, $a, $b, $c, 12, 45, 11);
        $step!(H, $c, $d, $a, $b, 15, 46, 16);
        $step!(H, $b, $c, $d, $a, 2, 47, 23);
        $step!(I, $a, $b, $c, $d, 0, 48, 6);
        $step!(I, $d, $a, $b, $c, 7, 49, 10);
        $step!(I, $c, $d, $a, $b, 14, 50, 15);
        $step!(I, $b, $c, $d, $a, 5, 51, 21);
        $step!(I, $a, $b, $c, $d, 12, 52, 6);
        $step!(I, $d, $a, $b, $c, 3, 53, 10);
        $step!(I, $c, $d, $a, $b, 10, 54, 15);
        $step!(I, $b, $c, $d, $a, 1, 55, 21);
        $step!(I, $a, $b, $c, $d, 8, 56, 6);
        $step!(I, $d, $a, $b, $c, 15, 57, 10);
        $step!(I, $c, $d, $a, $b, 6, 58, 15);
        $step!(I, $b, $c, $d, $a, 13, 59, 21);
        $step!(I, $a, $b, $c, $d, 4, 60, 6);
        $step!(I, $d, $a, $b, $c, 11, 61, 10);
        $step!(I, $c, $d, $a, $b, 2, 62, 15);
        $step!(I, $b, $c, $d, $a, 9, 63, 21);
    };
}

/// One block of one stream, in scalar code.
fn compress_scalar(state: &mut [u32; 4], block: &[u8]) {
    let mut m = [0u32; 16];
    for (word, bytes) in m.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    macro_rules! step {
        (F, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
            step!(@ ($d ^ ($b & ($c ^ $d))), $a, $b, $g, $i, $s)
        };
        (G, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
            step!(@ ($c ^ ($d & ($b ^ $c))), $a, $b, $g, $i, $s)
        };
        (H, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
            step!(@ ($b ^ $c ^ $d), $a, $b, $g, $i, $s)
        };
        (I, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
            step!(@ ($c ^ ($b | !$d)), $a, $b, $g, $i, $s)
        };
        (@ $f:expr, $a:ident, $b:ident, $g:expr, $i:expr, $s:expr) => {
            $a = $b.wrapping_add(
                $a.wrapping_add($f)
                    .wrapping_add(m[$g])
                    .wrapping_add(K[$i])
                    .rotate_left($s),
            )
        };
    }
    md5_64_steps!(step, a, b, c, d);
    for (word, add) in state.iter_mut().zip([a, b, c, d]) {
        *word = word.wrapping_add(add);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The SIMD backends. Safety, for both: the caller checked the CPU has the
    //! feature, and every `ptrs[l] + block * strides[l] + 64` for `block <
    //! blocks` lies in one readable allocation (a stride of 0 re-reads one
    //! block: an idle lane).
    use std::arch::x86_64::*;

    use super::K;

    /// Lane `l`'s message word `w` of block `block`, little-endian.
    #[inline(always)]
    unsafe fn word(ptr: *const u8, stride: usize, block: usize, w: usize) -> u32 {
        // SAFETY: in bounds by the module's contract; unaligned reads are allowed.
        unsafe { std::ptr::read_unaligned(ptr.add(block * stride + 4 * w).cast::<u32>()) }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run16(
        states: &mut [[u32; 4]; 16],
        ptrs: &[*const u8; 16],
        strides: &[usize; 16],
        blocks: usize,
    ) {
        let mut lanes = [0u32; 16];
        let mut regs = [_mm512_setzero_si512(); 4];
        for (r, reg) in regs.iter_mut().enumerate() {
            for (lane, state) in lanes.iter_mut().zip(states.iter()) {
                *lane = state[r];
            }
            // SAFETY: 64 readable bytes.
            *reg = unsafe { _mm512_loadu_si512(lanes.as_ptr().cast()) };
        }
        let [mut a, mut b, mut c, mut d] = regs;
        let mut m = [_mm512_setzero_si512(); 16];
        for block in 0..blocks {
            for (w, word_reg) in m.iter_mut().enumerate() {
                for l in 0..16 {
                    // SAFETY: the module's contract.
                    lanes[l] = unsafe { word(ptrs[l], strides[l], block, w) };
                }
                // SAFETY: 64 readable bytes.
                *word_reg = unsafe { _mm512_loadu_si512(lanes.as_ptr().cast()) };
            }
            let (a0, b0, c0, d0) = (a, b, c, d);
            // f(b, c, d) as a ternary-logic truth table over (b, c, d) = (F0, CC, AA).
            macro_rules! step {
                (F, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
                    step!(@ 0xca, $a, $b, $c, $d, $g, $i, $s)
                };
                (G, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
                    step!(@ 0xe4, $a, $b, $c, $d, $g, $i, $s)
                };
                (H, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
                    step!(@ 0x96, $a, $b, $c, $d, $g, $i, $s)
                };
                (I, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
                    step!(@ 0x39, $a, $b, $c, $d, $g, $i, $s)
                };
                (@ $t:expr, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
                    let f = _mm512_ternarylogic_epi32::<$t>($b, $c, $d);
                    let k = _mm512_set1_epi32(K[$i] as i32);
                    let sum = _mm512_add_epi32(_mm512_add_epi32($a, f), _mm512_add_epi32(m[$g], k));
                    $a = _mm512_add_epi32($b, _mm512_rol_epi32::<$s>(sum));
                };
            }
            md5_64_steps!(step, a, b, c, d);
            a = _mm512_add_epi32(a, a0);
            b = _mm512_add_epi32(b, b0);
            c = _mm512_add_epi32(c, c0);
            d = _mm512_add_epi32(d, d0);
        }
        for (r, reg) in [a, b, c, d].into_iter().enumerate() {
            // SAFETY: 64 writable bytes.
            unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), reg) };
            for (lane, state) in lanes.iter().zip(states.iter_mut()) {
                state[r] = *lane;
            }
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn run8(
        states: &mut [[u32; 4]; 8],
        ptrs: &[*const u8; 8],
        strides: &[usize; 8],
        blocks: usize,
    ) {
        let mut lanes = [0u32; 8];
        let mut regs = [_mm256_setzero_si256(); 4];
        for (r, reg) in regs.iter_mut().enumerate() {
            for (lane, state) in lanes.iter_mut().zip(states.iter()) {
                *lane = state[r];
            }
            // SAFETY: 32 readable bytes.
            *reg = unsafe { _mm256_loadu_si256(lanes.as_ptr().cast()) };
        }
        let [mut a, mut b, mut c, mut d] = regs;
        let ones = _mm256_set1_epi32(-1);
        let mut m = [_mm256_setzero_si256(); 16];
        for block in 0..blocks {
            for (w, word_reg) in m.iter_mut().enumerate() {
                for l in 0..8 {
                    // SAFETY: the module's contract.
                    lanes[l] = unsafe { word(ptrs[l], strides[l], block, w) };
                }
                // SAFETY: 32 readable bytes.
                *word_reg = unsafe { _mm256_loadu_si256(lanes.as_ptr().cast()) };
            }
            let (a0, b0, c0, d0) = (a, b, c, d);
            macro_rules! step {
                (F, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
                    let f = _mm256_xor_si256($d, _mm256_and_si256($b, _mm256_xor_si256($c, $d)));
                    step!(@ f, $a, $b, $g, $i, $s)
                };
                (G, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
                    let f = _mm256_xor_si256($c, _mm256_and_si256($d, _mm256_xor_si256($b, $c)));
                    step!(@ f, $a, $b, $g, $i, $s)
                };
                (H, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
                    let f = _mm256_xor_si256(_mm256_xor_si256($b, $c), $d);
                    step!(@ f, $a, $b, $g, $i, $s)
                };
                (I, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $i:expr, $s:expr) => {
                    let f = _mm256_xor_si256($c, _mm256_or_si256($b, _mm256_xor_si256($d, ones)));
                    step!(@ f, $a, $b, $g, $i, $s)
                };
                (@ $f:ident, $a:ident, $b:ident, $g:expr, $i:expr, $s:expr) => {
                    let k = _mm256_set1_epi32(K[$i] as i32);
                    let sum = _mm256_add_epi32(_mm256_add_epi32($a, $f), _mm256_add_epi32(m[$g], k));
                    let rotated = _mm256_or_si256(
                        _mm256_slli_epi32::<$s>(sum),
                        _mm256_srli_epi32::<{ 32 - $s }>(sum),
                    );
                    $a = _mm256_add_epi32($b, rotated);
                };
            }
            md5_64_steps!(step, a, b, c, d);
            a = _mm256_add_epi32(a, a0);
            b = _mm256_add_epi32(b, b0);
            c = _mm256_add_epi32(c, c0);
            d = _mm256_add_epi32(d, d0);
        }
        for (r, reg) in [a, b, c, d].into_iter().enumerate() {
            // SAFETY: 32 writable bytes.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), reg) };
            for (lane, state) in lanes.iter().zip(states.iter_mut()) {
                state[r] = *lane;
            }
        }
    }
}

/// How many streams this CPU hashes at once (1: scalar only).
pub fn lanes() -> usize {
    static LANES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LANES.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return 16;
            }
            if std::is_x86_feature_detected!("avx2") {
                return 8;
            }
        }
        1
    })
}

/// One stream's MD5: chaining value, bytes seen, and the partial block.
#[derive(Clone)]
pub struct Md5Stream {
    state: [u32; 4],
    len_bytes: u64,
    tail: [u8; BLOCK_BYTES],
    tail_len: usize,
}

impl Default for Md5Stream {
    fn default() -> Self {
        Md5Stream {
            state: STATE_INIT,
            len_bytes: 0,
            tail: [0; BLOCK_BYTES],
            tail_len: 0,
        }
    }
}

impl Md5Stream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Hashes `data` alone, in scalar code.
    pub fn update(&mut self, data: &[u8]) {
        let rest = self.absorb(data);
        let whole = rest.len() / BLOCK_BYTES * BLOCK_BYTES;
        for block in rest[..whole].chunks_exact(BLOCK_BYTES) {
            compress_scalar(&mut self.state, block);
        }
        self.keep(&rest[whole..]);
    }

    /// Counts `data` and completes the buffered partial block from it;
    /// returns what is left (empty if the partial block is still partial).
    fn absorb<'d>(&mut self, data: &'d [u8]) -> &'d [u8] {
        self.len_bytes += data.len() as u64;
        if self.tail_len == 0 {
            return data;
        }
        let take = (BLOCK_BYTES - self.tail_len).min(data.len());
        self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&data[..take]);
        self.tail_len += take;
        if self.tail_len == BLOCK_BYTES {
            let block = self.tail;
            compress_scalar(&mut self.state, &block);
            self.tail_len = 0;
        }
        &data[take..]
    }

    /// Buffers the bytes after the last whole block (fewer than a block).
    fn keep(&mut self, rest: &[u8]) {
        self.tail[self.tail_len..self.tail_len + rest.len()].copy_from_slice(rest);
        self.tail_len += rest.len();
    }

    /// The digest (RFC 1321's padding and length).
    pub fn finalize(mut self) -> [u8; 16] {
        let bit_len = self.len_bytes.wrapping_mul(8);
        let mut pad = [0u8; 2 * BLOCK_BYTES];
        pad[0] = 0x80;
        let pad_len = if self.tail_len < 56 {
            56 - self.tail_len
        } else {
            120 - self.tail_len
        };
        let len_bytes = self.len_bytes;
        self.update(&pad[..pad_len]);
        self.update(&bit_len.to_le_bytes());
        self.len_bytes = len_bytes;
        debug_assert_eq!(self.tail_len, 0);
        let mut out = [0u8; 16];
        for (bytes, word) in out.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        out
    }
}

/// Hashes each stream's data (`update` of each), the whole blocks of all of
/// them together in SIMD lanes.
pub fn update_many(jobs: &mut [(&mut Md5Stream, &[u8])]) {
    let mut states = Vec::with_capacity(jobs.len());
    let mut inputs = Vec::with_capacity(jobs.len());
    let mut rests = Vec::with_capacity(jobs.len());
    for (stream, data) in jobs.iter_mut() {
        let rest = stream.absorb(data);
        let whole = rest.len() / BLOCK_BYTES * BLOCK_BYTES;
        states.push(stream.state);
        inputs.push(&rest[..whole]);
        rests.push(&rest[whole..]);
    }
    compress_many(&mut states, &inputs);
    for (((stream, _), state), rest) in jobs.iter_mut().zip(states).zip(rests) {
        stream.state = state;
        stream.keep(rest);
    }
}

/// Runs every input's blocks (whole blocks each) through its state, as many
/// inputs at once as the CPU has lanes.
fn compress_many(states: &mut [[u32; 4]], inputs: &[&[u8]]) {
    let lanes = lanes();
    // (input index, blocks done)
    let mut active: Vec<(usize, usize)> = Vec::with_capacity(lanes);
    let mut next = 0;
    loop {
        while active.len() < lanes && next < inputs.len() {
            if !inputs[next].is_empty() {
                active.push((next, 0));
            }
            next += 1;
        }
        match active.len() {
            0 => return,
            // Alone: lanes would only cost more.
            1 => {
                let (index, done) = active[0];
                for block in inputs[index][done * BLOCK_BYTES..].chunks_exact(BLOCK_BYTES) {
                    compress_scalar(&mut states[index], block);
                }
                active.clear();
            }
            _ => {
                let blocks = active
                    .iter()
                    .map(|(index, done)| inputs[*index].len() / BLOCK_BYTES - done)
                    .min()
                    .expect("two or more active");
                compress_lanes(states, inputs, &active, blocks, lanes);
                for entry in active.iter_mut() {
                    entry.1 += blocks;
                }
                active.retain(|(index, done)| inputs[*index].len() / BLOCK_BYTES > *done);
            }
        }
    }
}

/// `blocks` blocks of each active input, from where it is, in one SIMD run.
fn compress_lanes(
    states: &mut [[u32; 4]],
    inputs: &[&[u8]],
    active: &[(usize, usize)],
    blocks: usize,
    lanes: usize,
) {
    static IDLE: [u8; BLOCK_BYTES] = [0; BLOCK_BYTES];
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! run {
            ($n:literal, $run:path) => {{
                let mut lane_states = [[0u32; 4]; $n];
                let mut ptrs = [IDLE.as_ptr(); $n];
                let mut strides = [0usize; $n];
                for (lane, (index, done)) in active.iter().enumerate() {
                    lane_states[lane] = states[*index];
                    ptrs[lane] = inputs[*index][done * BLOCK_BYTES..].as_ptr();
                    strides[lane] = BLOCK_BYTES;
                }
                // SAFETY: `lanes()` saw the feature; each active lane reads
                // `blocks` whole blocks its input holds (`blocks` is the
                // fewest any has left); idle lanes re-read IDLE.
                unsafe { $run(&mut lane_states, &ptrs, &strides, blocks) };
                for (lane, (index, _)) in active.iter().enumerate() {
                    states[*index] = lane_states[lane];
                }
                return;
            }};
        }
        match lanes {
            16 => run!(16, x86::run16),
            8 => run!(8, x86::run8),
            _ => {}
        }
    }
    let _ = lanes;
    for (index, done) in active {
        let start = done * BLOCK_BYTES;
        for block in inputs[*index][start..start + blocks * BLOCK_BYTES].chunks_exact(BLOCK_BYTES) {
            compress_scalar(&mut states[*index], block);
        }
    }
}

#[cfg(test)]
mod tests {
    use md5::{Digest, Md5};
    use rand::{Rng, SeedableRng};

    use super::*;

    fn reference(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }

    #[test]
    fn scalar_matches_rfc_1321_and_md5_crate() {
        let empty = Md5Stream::new().finalize();
        assert_eq!(hex::encode(empty), "d41d8cd98f00b204e9800998ecf8427e");
        let mut quick = Md5Stream::new();
        quick.update(b"The quick brown fox jumps over the lazy dog");
        assert_eq!(
            hex::encode(quick.finalize()),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
        for len in [55, 56, 57, 63, 64, 65, 119, 120, 121, 128, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut stream = Md5Stream::new();
            stream.update(&data);
            assert_eq!(stream.finalize(), reference(&data), "length {len}");
        }
    }

    /// Random streams of random lengths, fed in random pieces, some through
    /// `update_many` with others and some alone: every digest is the
    /// reference's.
    #[test]
    fn lanes_match_the_reference_on_random_lengths_and_splits() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x6d64_3521);
        for round in 0..40 {
            let count = rng.gen_range(1..=20);
            let datas: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    let len = match rng.gen_range(0..4) {
                        0 => rng.gen_range(0..200),
                        1 => rng.gen_range(0..5000),
                        _ => rng.gen_range(0..70_000),
                    };
                    (0..len).map(|_| rng.gen()).collect()
                })
                .collect();
            let mut streams: Vec<Md5Stream> = (0..count).map(|_| Md5Stream::new()).collect();
            let mut offsets = vec![0usize; count];
            while offsets.iter().zip(&datas).any(|(o, d)| *o < d.len()) {
                let mut pieces = Vec::new();
                for (i, data) in datas.iter().enumerate() {
                    let left = data.len() - offsets[i];
                    let take = if left == 0 {
                        0
                    } else {
                        rng.gen_range(0..=left.min(20_000))
                    };
                    pieces.push(&data[offsets[i]..offsets[i] + take]);
                    offsets[i] += take;
                }
                if rng.gen_bool(0.8) {
                    let mut jobs: Vec<(&mut Md5Stream, &[u8])> =
                        streams.iter_mut().zip(pieces).collect();
                    update_many(&mut jobs);
                } else {
                    for (stream, piece) in streams.iter_mut().zip(pieces) {
                        stream.update(piece);
                    }
                }
            }
            for (i, (stream, data)) in streams.into_iter().zip(&datas).enumerate() {
                assert_eq!(
                    stream.finalize(),
                    reference(data),
                    "round {round} stream {i}"
                );
            }
        }
    }

    #[test]
    fn every_backend_matches_scalar() {
        // The detected backend is tested above; this drives the others this
        // CPU has directly, with inputs of unequal block counts.
        let datas: Vec<Vec<u8>> = (0..16)
            .map(|i| (0..64 * (3 + i)).map(|b| (b * 31 + i) as u8).collect())
            .collect();
        let inputs: Vec<&[u8]> = datas.iter().map(Vec::as_slice).collect();
        let mut expected = vec![STATE_INIT; 16];
        for (state, input) in expected.iter_mut().zip(&inputs) {
            for block in input.chunks_exact(BLOCK_BYTES) {
                compress_scalar(state, block);
            }
        }
        for lanes in [1, 8, 16] {
            #[cfg(target_arch = "x86_64")]
            {
                if lanes == 16 && !std::is_x86_feature_detected!("avx512f") {
                    continue;
                }
                if lanes == 8 && !std::is_x86_feature_detected!("avx2") {
                    continue;
                }
            }
            let mut states = vec![STATE_INIT; 16];
            let mut active: Vec<(usize, usize)> = Vec::new();
            let mut next = 0;
            while next < inputs.len() || !active.is_empty() {
                while active.len() < lanes.max(2) && next < inputs.len() {
                    active.push((next, 0));
                    next += 1;
                }
                let blocks = active
                    .iter()
                    .map(|(i, done)| inputs[*i].len() / BLOCK_BYTES - done)
                    .min()
                    .unwrap();
                compress_lanes(&mut states, &inputs, &active, blocks, lanes);
                for entry in active.iter_mut() {
                    entry.1 += blocks;
                }
                active.retain(|(i, done)| inputs[*i].len() / BLOCK_BYTES > *done);
            }
            assert_eq!(states, expected, "{lanes} lanes");
        }
    }
}
