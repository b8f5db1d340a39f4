//! Encryption at rest, per 1 MiB chunk, on one core: the design's
//! AES-256-CTR + HMAC-SHA256 (encrypt, then MAC the ciphertext) against
//! AES-256-GCM. The design switches to GCM only if it is at least 1.5x
//! faster; compare `encrypt_chunk/ctr_hmac_sha256/1MiB` with
//! `encrypt_chunk/gcm/1MiB`. The two halves of CTR + HMAC are also measured
//! alone, to show which one sets the pace.
//!
//! Decryption costs the same passes in the other order, so it is not
//! measured separately. All crates are RustCrypto's, which pick AES-NI,
//! PCLMULQDQ and the SHA extensions at run time when the CPU has them.

use std::hint::black_box;

use aes::Aes256;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type Aes256Ctr = ctr::Ctr128BE<Aes256>;
type HmacSha256 = Hmac<Sha256>;

const CHUNK_BYTES: usize = 1 << 20;
const CIPHER_KEY: [u8; 32] = [0x42; 32];
const MAC_KEY: [u8; 32] = [0x24; 32];
/// Per-chunk IV / nonce: unique per (object, chunk) in a real store.
const CTR_IV: [u8; 16] = [7; 16];
const GCM_NONCE: [u8; 12] = [7; 12];
/// Binds the ciphertext to its place: object id and chunk index.
const ASSOCIATED_DATA: &[u8] = b"object-id:0123456789abcdef chunk:3";

fn ctr_encrypt(chunk: &mut [u8]) {
    let mut cipher = Aes256Ctr::new(&CIPHER_KEY.into(), &CTR_IV.into());
    cipher.apply_keystream(chunk);
}

fn hmac_tag(chunk: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&MAC_KEY).expect("HMAC takes any key");
    mac.update(ASSOCIATED_DATA);
    mac.update(chunk);
    mac.finalize().into_bytes().into()
}

fn ctr_hmac_encrypt(chunk: &mut [u8]) -> [u8; 32] {
    ctr_encrypt(chunk);
    hmac_tag(chunk)
}

fn gcm_encrypt(cipher: &Aes256Gcm, chunk: &mut [u8]) -> [u8; 16] {
    let tag = cipher
        .encrypt_inout_detached(&GCM_NONCE.into(), ASSOCIATED_DATA, chunk.into())
        .expect("a 1 MiB chunk is within GCM's limit");
    tag.into()
}

fn gcm_ring_encrypt(key: &ring::aead::LessSafeKey, chunk: &mut [u8]) -> [u8; 16] {
    let nonce = ring::aead::Nonce::assume_unique_for_key(GCM_NONCE);
    let tag = key
        .seal_in_place_separate_tag(nonce, ring::aead::Aad::from(ASSOCIATED_DATA), chunk)
        .expect("a 1 MiB chunk is within GCM's limit");
    tag.as_ref().try_into().expect("16 bytes")
}

fn bench_encryption(c: &mut Criterion) {
    // Encrypting in place over and over keeps the buffer's bytes changing,
    // which is as good as fresh data for ciphers whose speed ignores content.
    let mut chunk = vec![0x5a_u8; CHUNK_BYTES];
    let gcm = Aes256Gcm::new(&CIPHER_KEY.into());
    let mut group = c.benchmark_group("encrypt_chunk");
    group.throughput(Throughput::Bytes(CHUNK_BYTES as u64));
    group.bench_function("ctr_hmac_sha256/1MiB", |b| {
        b.iter(|| ctr_hmac_encrypt(black_box(&mut chunk)));
    });
    group.bench_function("gcm/1MiB", |b| {
        b.iter(|| gcm_encrypt(&gcm, black_box(&mut chunk)));
    });
    let ring_key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &CIPHER_KEY).expect("32 bytes"),
    );
    group.bench_function("gcm_ring/1MiB", |b| {
        b.iter(|| gcm_ring_encrypt(&ring_key, black_box(&mut chunk)));
    });
    group.bench_function("ctr_only/1MiB", |b| {
        b.iter(|| ctr_encrypt(black_box(&mut chunk)));
    });
    group.bench_function("hmac_sha256_only/1MiB", |b| {
        b.iter(|| hmac_tag(black_box(&chunk)));
    });
    group.finish();
}

criterion_group!(benches, bench_encryption);
criterion_main!(benches);
