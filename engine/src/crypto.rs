//! Encryption at rest: per-object data keys wrapped by a master key, and the
//! per-chunk cipher.
//!
//! - A master key (32 bytes) never lives in the data directory; callers load
//!   it and hand it here. Its id (first 8 hex digits of SHA-256 of the key) is
//!   stored with every wrapped data key so keys can rotate.
//! - Each object (or multipart upload) gets a random 32-byte data secret; the
//!   cipher key and the MAC key are derived from it with HMAC-SHA256, so one
//!   wrapped value carries both. Wrapping is AES-256-CTR with a random IV plus
//!   HMAC-SHA256 over (IV, ciphertext), both keyed from the master key.
//! - A chunk's payload is encrypted in place and authenticated with its object
//!   id, chunk index and last-chunk flag bound, in the record header's 24-byte
//!   tag field, by one of two constructions, which the wrapped data key names
//!   ([`ChunkCipher`]): objects written since format v2 use AES-256-GCM (nonce
//!   = low 8 bytes of the object id, chunk index; the 16-byte tag, then 8
//!   zero bytes); earlier ones, AES-256-CTR (IV = low 8 bytes of the object
//!   id, chunk index, 32-bit block counter) with HMAC-SHA256 over (object id,
//!   chunk index, last-chunk flag, ciphertext) truncated to 24 bytes, which
//!   stay readable. Tampering, reordering (the index and id are bound) and
//!   truncation (the last chunk says so) are detected before a byte is
//!   served; a range read decrypts only the chunks it touches.
//!
//! GCM since v2: with MD5 in SIMD lanes, HMAC-SHA256 became the largest cost
//! of a large PUT and half of a large GET's CPU, and GCM measured 3x faster
//! than CTR+HMAC on this machine (engine/benches/encryption.rs; see
//! docs/PERFORMANCE.md and docs/format.md). The GCM is `ring`'s (AVX-512,
//! VAES and VPCLMULQDQ when the CPU has them; already in the build for TLS),
//! which measured faster than RustCrypto's `aes-gcm`; a test holds the two to
//! the same bytes and tags.

use aes::Aes256;
use base64::Engine as _;
use ctr::cipher::{InnerIvInit, KeyInit, KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM};
use sha2::{Digest, Sha256};

type Aes256Ctr32 = ctr::Ctr32BE<Aes256>;
type HmacSha256 = Hmac<Sha256>;

pub const MASTER_KEY_BYTES: usize = 32;
/// The object metadata entry holding the wrapped data key of encrypted data.
/// The engine stores metadata opaquely; it knows this one name so that offline
/// checks can tell an encrypted inline body (tag + ciphertext) from a damaged one.
pub const META_WRAPPED_KEY: &str = "x-maxiofs-sse-key";
/// Bytes of the chunk tag kept (HMAC-SHA256 truncated; the header field's size).
pub const CHUNK_TAG_BYTES: usize = 24;
const DATA_SECRET_BYTES: usize = 32;
const WRAP_IV_BYTES: usize = 16;
const WRAP_TAG_BYTES: usize = 32;
/// Format tag of a wrapped data key, so the scheme can change later.
/// Wrapped data keys whose chunks are CTR + HMAC-SHA256 (format v1).
const WRAPPED_PREFIX: &str = "v1";
/// Wrapped data keys whose chunks are AES-256-GCM (format v2).
const WRAPPED_PREFIX_GCM: &str = "v2";
/// GCM's tag; the rest of the header's tag field is zero.
const GCM_TAG_BYTES: usize = 16;

/// How a data key's chunks are sealed: named by its wrapped form's prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkCipher {
    /// `v1`: AES-256-CTR, then HMAC-SHA256 of the ciphertext.
    CtrHmacSha256,
    /// `v2`: AES-256-GCM.
    Aes256Gcm,
}

impl ChunkCipher {
    fn prefix(self) -> &'static str {
        match self {
            ChunkCipher::CtrHmacSha256 => WRAPPED_PREFIX,
            ChunkCipher::Aes256Gcm => WRAPPED_PREFIX_GCM,
        }
    }

    fn from_prefix(prefix: &str) -> Option<ChunkCipher> {
        match prefix {
            WRAPPED_PREFIX => Some(ChunkCipher::CtrHmacSha256),
            WRAPPED_PREFIX_GCM => Some(ChunkCipher::Aes256Gcm),
            _ => None,
        }
    }
}
/// The id written for data keys wrapped by a client's SSE-C key.
const CUSTOMER_KEY_ID: &str = "sse-c";

/// Why a key or chunk could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// The wrapped key names a master key id we do not have.
    UnknownMasterKey { key_id: String },
    /// A wrapped key or a chunk failed its MAC: wrong key or tampered bytes.
    Authentication,
    /// The stored value is not a wrapped key this version can read.
    Malformed,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CryptoError::UnknownMasterKey { key_id } => {
                write!(f, "data key wrapped by unknown master key {key_id}")
            }
            CryptoError::Authentication => write!(f, "authentication failed"),
            CryptoError::Malformed => write!(f, "malformed wrapped key"),
        }
    }
}

impl std::error::Error for CryptoError {}

/// The master key, its id, and the two wrapping keys derived from it once and
/// kept ready: the AES key schedule expanded, the HMAC keyed (every PUT wraps a
/// data key and every GET unwraps one). After a rotation it also carries the
/// earlier keys (`previous`): new data keys are wrapped
/// by the current one only, and a data key wrapped by an earlier one still
/// opens until the re-wrap has moved it.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; MASTER_KEY_BYTES],
    id: String,
    wrap_cipher: Aes256,
    wrap_mac: HmacSha256,
    previous: Vec<MasterKey>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    pub fn new(key: [u8; MASTER_KEY_BYTES]) -> MasterKey {
        let digest = Sha256::digest(key);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        MasterKey::with_id(key, id)
    }

    fn with_id(key: [u8; MASTER_KEY_BYTES], id: String) -> MasterKey {
        MasterKey {
            key,
            id,
            wrap_cipher: Aes256::new(&hmac_sha256(&key, &[b"wrap-enc"]).into()),
            wrap_mac: keyed_hmac(&hmac_sha256(&key, &[b"wrap-mac"])),
            previous: Vec::new(),
        }
    }

    /// This key as the current one, with `previous` (newest first) still
    /// able to open what they wrapped.
    pub fn with_previous(mut self, previous: Vec<MasterKey>) -> MasterKey {
        self.previous = previous
            .into_iter()
            .filter(|key| key.id != self.id)
            .map(|key| MasterKey {
                previous: Vec::new(),
                ..key
            })
            .collect();
        self
    }

    /// Ids of the earlier keys this one still opens data for.
    pub fn previous_ids(&self) -> Vec<&str> {
        self.previous.iter().map(|key| key.id.as_str()).collect()
    }

    /// Every key, current first (for writing the key file).
    pub fn all(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(self).chain(self.previous.iter())
    }

    pub fn generate() -> MasterKey {
        MasterKey::new(rand::random())
    }

    /// A client's SSE-C key used as a wrapping key. Its id is a constant, so a
    /// stored wrapped value does not fingerprint the client's key.
    pub fn customer(key: [u8; MASTER_KEY_BYTES]) -> MasterKey {
        MasterKey::with_id(key, CUSTOMER_KEY_ID.to_owned())
    }

    /// The key's id, as stored beside every data key it wraps.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key bytes, for writing the key file (and nothing else).
    pub fn bytes(&self) -> &[u8; MASTER_KEY_BYTES] {
        &self.key
    }

    /// A fresh data key and its wrapped form (`v2:<key id>:<base64>`: its
    /// chunks are AES-256-GCM), which is what an object stores.
    pub fn new_data_key(&self) -> (DataKey, String) {
        let secret: [u8; DATA_SECRET_BYTES] = rand::random();
        let cipher = ChunkCipher::Aes256Gcm;
        (
            DataKey::from_secret(&secret, cipher),
            self.wrap_secret(&secret, cipher),
        )
    }

    fn wrap_secret(&self, secret: &[u8; DATA_SECRET_BYTES], cipher: ChunkCipher) -> String {
        let iv: [u8; WRAP_IV_BYTES] = rand::random();
        let mut sealed = *secret;
        self.wrap_ctr(&iv).apply_keystream(&mut sealed);
        let tag = mac_parts(self.wrap_mac.clone(), &[&iv, &sealed]);
        let mut blob = Vec::with_capacity(WRAP_IV_BYTES + DATA_SECRET_BYTES + WRAP_TAG_BYTES);
        blob.extend_from_slice(&iv);
        blob.extend_from_slice(&sealed);
        blob.extend_from_slice(&tag);
        let encoded = base64::engine::general_purpose::STANDARD.encode(blob);
        format!("{}:{}:{encoded}", cipher.prefix(), self.id)
    }

    /// Opens a wrapped data key written by `new_data_key` with this key.
    pub fn unwrap_data_key(&self, wrapped: &str) -> Result<DataKey, CryptoError> {
        self.unwrap_secret(wrapped)
            .map(|(secret, cipher)| DataKey::from_secret(&secret, cipher))
    }

    /// The same data key wrapped by the current master key, or None when it
    /// already is (the background re-wrap after a rotation).
    pub fn rewrap_data_key(&self, wrapped: &str) -> Result<Option<String>, CryptoError> {
        if wrapped_key_id(wrapped)? == self.id {
            return Ok(None);
        }
        // The chunks stay as they are: the re-wrapped key names their cipher.
        let (secret, cipher) = self.unwrap_secret(wrapped)?;
        Ok(Some(self.wrap_secret(&secret, cipher)))
    }

    fn unwrap_secret(
        &self,
        wrapped: &str,
    ) -> Result<([u8; DATA_SECRET_BYTES], ChunkCipher), CryptoError> {
        let mut fields = wrapped.splitn(3, ':');
        let (Some(prefix), Some(key_id), Some(encoded)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(CryptoError::Malformed);
        };
        let cipher = ChunkCipher::from_prefix(prefix).ok_or(CryptoError::Malformed)?;
        if key_id != self.id {
            return match self.previous.iter().find(|key| key.id == key_id) {
                Some(earlier) => earlier.unwrap_secret(wrapped),
                None => Err(CryptoError::UnknownMasterKey {
                    key_id: key_id.to_owned(),
                }),
            };
        }
        let blob = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| CryptoError::Malformed)?;
        if blob.len() != WRAP_IV_BYTES + DATA_SECRET_BYTES + WRAP_TAG_BYTES {
            return Err(CryptoError::Malformed);
        }
        let (iv, rest) = blob.split_at(WRAP_IV_BYTES);
        let (sealed, tag) = rest.split_at(DATA_SECRET_BYTES);
        verify_tag(self.wrap_mac.clone(), &[iv, sealed], tag)?;
        let mut secret: [u8; DATA_SECRET_BYTES] = sealed.try_into().expect("length checked");
        let iv: [u8; WRAP_IV_BYTES] = iv.try_into().expect("length checked");
        self.wrap_ctr(&iv).apply_keystream(&mut secret);
        Ok((secret, cipher))
    }

    fn wrap_ctr(&self, iv: &[u8; WRAP_IV_BYTES]) -> Aes256Ctr32 {
        Aes256Ctr32::from_core(ctr::CtrCore::inner_iv_init(
            self.wrap_cipher.clone(),
            iv.into(),
        ))
    }
}

/// Prefix of a secret sealed by [`MasterKey::seal_text`].
pub const SEALED_TEXT_PREFIX: &str = "s1";

impl MasterKey {
    /// Seals a stored secret (an access key's secret, a password hash) so a
    /// copy of the catalog alone reveals nothing: `s1:<key id>:<base64 of iv,
    /// ciphertext, tag>`, AES-256-CTR under a subkey of this master key and an
    /// HMAC-SHA256 tag over the key id, iv and ciphertext.
    pub fn seal_text(&self, plaintext: &[u8]) -> String {
        let (cipher_key, mac_key) = self.text_keys();
        let iv: [u8; WRAP_IV_BYTES] = rand::random();
        let mut sealed = plaintext.to_vec();
        Aes256Ctr32::new(&cipher_key.into(), &iv.into()).apply_keystream(&mut sealed);
        let tag = hmac_sha256(&mac_key, &[self.id.as_bytes(), &iv, &sealed]);
        let mut blob = Vec::with_capacity(WRAP_IV_BYTES + sealed.len() + WRAP_TAG_BYTES);
        blob.extend_from_slice(&iv);
        blob.extend_from_slice(&sealed);
        blob.extend_from_slice(&tag);
        let encoded = base64::engine::general_purpose::STANDARD.encode(blob);
        format!("{SEALED_TEXT_PREFIX}:{}:{encoded}", self.id)
    }

    /// Opens a secret sealed by `seal_text` with this key or an earlier one.
    pub fn open_text(&self, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let mut fields = sealed.splitn(3, ':');
        let (Some(SEALED_TEXT_PREFIX), Some(key_id), Some(encoded)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(CryptoError::Malformed);
        };
        let key = self.all().find(|key| key.id == key_id).ok_or_else(|| {
            CryptoError::UnknownMasterKey {
                key_id: key_id.to_owned(),
            }
        })?;
        let blob = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| CryptoError::Malformed)?;
        if blob.len() < WRAP_IV_BYTES + WRAP_TAG_BYTES {
            return Err(CryptoError::Malformed);
        }
        let (iv, rest) = blob.split_at(WRAP_IV_BYTES);
        let (ciphertext, tag) = rest.split_at(rest.len() - WRAP_TAG_BYTES);
        let (cipher_key, mac_key) = key.text_keys();
        verify_tag(
            keyed_hmac(&mac_key),
            &[key_id.as_bytes(), iv, ciphertext],
            tag,
        )?;
        let mut plaintext = ciphertext.to_vec();
        let iv: [u8; WRAP_IV_BYTES] = iv.try_into().expect("length checked");
        Aes256Ctr32::new(&cipher_key.into(), &iv.into()).apply_keystream(&mut plaintext);
        Ok(plaintext)
    }

    /// Subkeys for sealed secrets, apart from the data-key wrapping ones.
    /// Derived per call: secrets are sealed and opened at start and on
    /// catalog changes, never per request.
    fn text_keys(&self) -> ([u8; 32], [u8; 32]) {
        (
            hmac_sha256(&self.key, &[b"text-enc"]),
            hmac_sha256(&self.key, &[b"text-mac"]),
        )
    }
}

/// The id of the master key that sealed `sealed`, if it is a sealed secret.
pub fn sealed_text_key_id(sealed: &str) -> Option<&str> {
    let mut fields = sealed.splitn(3, ':');
    match (fields.next(), fields.next(), fields.next()) {
        (Some(SEALED_TEXT_PREFIX), Some(key_id), Some(_)) => Some(key_id),
        _ => None,
    }
}

/// One object's (or upload's) keys.
#[derive(Clone)]
pub struct DataKey {
    cipher_key: [u8; 32],
    mac_key: [u8; 32],
    cipher: ChunkCipher,
}

impl DataKey {
    fn from_secret(secret: &[u8; DATA_SECRET_BYTES], cipher: ChunkCipher) -> DataKey {
        // Both subkeys from one keyed HMAC state: the key is padded and
        // hashed once, not twice.
        let keyed = keyed_hmac(secret);
        DataKey {
            cipher_key: mac_parts(keyed.clone(), &[b"chunk-enc"]),
            mac_key: mac_parts(keyed, &[b"chunk-mac"]),
            cipher,
        }
    }

    /// How this key's chunks are sealed.
    pub fn cipher(&self) -> ChunkCipher {
        self.cipher
    }

    fn chunk_iv(object_id: u128, chunk_index: u32) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..8].copy_from_slice(&object_id.to_le_bytes()[..8]);
        iv[8..12].copy_from_slice(&chunk_index.to_be_bytes());
        iv
    }

    /// GCM's nonce: the CTR IV's first 12 bytes (the id's low 8, the index).
    fn chunk_nonce(object_id: u128, chunk_index: u32) -> [u8; 12] {
        let iv = Self::chunk_iv(object_id, chunk_index);
        iv[..12].try_into().expect("16 >= 12")
    }

    fn gcm_key(&self) -> LessSafeKey {
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.cipher_key).expect("a 32-byte AES-256 key"),
        )
    }

    /// What GCM authenticates besides the ciphertext: what CTR + HMAC's tag binds.
    fn chunk_aad(object_id: u128, chunk_index: u32, last: bool) -> [u8; 21] {
        let mut aad = [0u8; 21];
        aad[..16].copy_from_slice(&object_id.to_le_bytes());
        aad[16..20].copy_from_slice(&chunk_index.to_le_bytes());
        aad[20] = u8::from(last);
        aad
    }

    fn chunk_tag(
        &self,
        object_id: u128,
        chunk_index: u32,
        last: bool,
        ciphertext: &[u8],
    ) -> [u8; 32] {
        hmac_sha256(
            &self.mac_key,
            &[
                &object_id.to_le_bytes(),
                &chunk_index.to_le_bytes(),
                &[u8::from(last)],
                ciphertext,
            ],
        )
    }

    /// Encrypts a chunk's payload in place and returns its tag.
    pub fn seal_chunk(
        &self,
        object_id: u128,
        chunk_index: u32,
        last: bool,
        payload: &mut [u8],
    ) -> [u8; CHUNK_TAG_BYTES] {
        match self.cipher {
            ChunkCipher::Aes256Gcm => {
                let nonce = Nonce::assume_unique_for_key(Self::chunk_nonce(object_id, chunk_index));
                let aad = Self::chunk_aad(object_id, chunk_index, last);
                let tag = self
                    .gcm_key()
                    .seal_in_place_separate_tag(nonce, Aad::from(aad), payload)
                    .expect("a chunk is far below GCM's length limit");
                let mut field = [0u8; CHUNK_TAG_BYTES];
                field[..GCM_TAG_BYTES].copy_from_slice(tag.as_ref());
                field
            }
            ChunkCipher::CtrHmacSha256 => {
                let iv = Self::chunk_iv(object_id, chunk_index);
                Aes256Ctr32::new(&self.cipher_key.into(), &iv.into()).apply_keystream(payload);
                let tag = self.chunk_tag(object_id, chunk_index, last, payload);
                tag[..CHUNK_TAG_BYTES].try_into().expect("32 >= 24")
            }
        }
    }

    /// Checks a chunk's tag without decrypting in place (the scrubber and
    /// `check`; GCM decrypts a copy, as it can only verify by decrypting).
    pub fn verify_chunk_tag(
        &self,
        object_id: u128,
        chunk_index: u32,
        last: bool,
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        match self.cipher {
            ChunkCipher::Aes256Gcm => {
                let mut copy = ciphertext.to_vec();
                self.open_chunk(object_id, chunk_index, last, &mut copy, tag)
            }
            ChunkCipher::CtrHmacSha256 => {
                let expected = self.chunk_tag(object_id, chunk_index, last, ciphertext);
                match constant_time_eq(&expected[..CHUNK_TAG_BYTES], tag) {
                    true => Ok(()),
                    false => Err(CryptoError::Authentication),
                }
            }
        }
    }

    /// Checks a chunk's tag and decrypts its payload in place. On failure the
    /// payload's bytes are unspecified (CTR + HMAC leaves them encrypted; GCM
    /// may have decrypted them): an error, never served.
    pub fn open_chunk(
        &self,
        object_id: u128,
        chunk_index: u32,
        last: bool,
        payload: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        match self.cipher {
            ChunkCipher::Aes256Gcm => {
                // The field's last 8 bytes are zero: anything else is damage
                // (the header crc32c covers them too).
                if tag.len() != CHUNK_TAG_BYTES || tag[GCM_TAG_BYTES..].iter().any(|b| *b != 0) {
                    return Err(CryptoError::Authentication);
                }
                let nonce = Nonce::assume_unique_for_key(Self::chunk_nonce(object_id, chunk_index));
                let aad = Self::chunk_aad(object_id, chunk_index, last);
                let gcm_tag = Tag::try_from(&tag[..GCM_TAG_BYTES])
                    .map_err(|_| CryptoError::Authentication)?;
                self.gcm_key()
                    .open_in_place_separate_tag(nonce, Aad::from(aad), gcm_tag, payload, 0..)
                    .map(|_| ())
                    .map_err(|_| CryptoError::Authentication)
            }
            ChunkCipher::CtrHmacSha256 => {
                let expected = self.chunk_tag(object_id, chunk_index, last, payload);
                if !constant_time_eq(&expected[..CHUNK_TAG_BYTES], tag) {
                    return Err(CryptoError::Authentication);
                }
                let iv = Self::chunk_iv(object_id, chunk_index);
                Aes256Ctr32::new(&self.cipher_key.into(), &iv.into()).apply_keystream(payload);
                Ok(())
            }
        }
    }
}

/// HMAC-SHA256 of the concatenated `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    mac_parts(keyed_hmac(key), parts)
}

fn keyed_hmac(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length")
}

/// Finishes a keyed HMAC state (cloned from one kept ready) over `parts`.
fn mac_parts(mut mac: HmacSha256, parts: &[&[u8]]) -> [u8; 32] {
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The id of the master key a wrapped data key (`v1:<id>:...`) names.
pub fn wrapped_key_id(wrapped: &str) -> Result<&str, CryptoError> {
    let mut fields = wrapped.splitn(3, ':');
    match (fields.next(), fields.next(), fields.next()) {
        (Some(prefix), Some(key_id), Some(_)) if ChunkCipher::from_prefix(prefix).is_some() => {
            Ok(key_id)
        }
        _ => Err(CryptoError::Malformed),
    }
}

/// Whether `extents[i]` is the last chunk of the write (object or part) that
/// stored it: the next extent belongs to another write, or there is none.
/// Chunk tags bind this flag, so truncation is detected.
pub fn is_last_of_its_write(extents: &[crate::index::Extent], i: usize) -> bool {
    extents
        .get(i + 1)
        .is_none_or(|next| next.object_id != extents[i].object_id)
}

fn verify_tag(mac: HmacSha256, parts: &[&[u8]], tag: &[u8]) -> Result<(), CryptoError> {
    let expected = mac_parts(mac, parts);
    match constant_time_eq(&expected, tag) {
        true => Ok(()),
        false => Err(CryptoError::Authentication),
    }
}

/// Equality that takes the same time wherever the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_keys_wrap_and_unwrap_only_with_their_master_key() {
        let master = MasterKey::generate();
        let (key, wrapped) = master.new_data_key();
        assert!(wrapped.starts_with(&format!("v2:{}:", master.id())));
        let opened = master.unwrap_data_key(&wrapped).expect("own key opens");
        assert_eq!(opened.cipher_key, key.cipher_key);
        assert_eq!(opened.mac_key, key.mac_key);

        let other = MasterKey::generate();
        assert!(matches!(
            other.unwrap_data_key(&wrapped),
            Err(CryptoError::UnknownMasterKey { .. })
        ));
        // Same id, different bytes (a forged id) still fails the MAC.
        let forged = MasterKey::with_id(other.key, master.id.clone());
        assert_eq!(
            forged.unwrap_data_key(&wrapped).err(),
            Some(CryptoError::Authentication)
        );
        let mut tampered = wrapped.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(master.unwrap_data_key(&tampered).is_err());
        assert_eq!(
            master.unwrap_data_key("v3:abc:def").err(),
            Some(CryptoError::Malformed)
        );
    }

    #[test]
    fn chunks_round_trip_and_detect_tampering_reordering_and_truncation() {
        let master = MasterKey::generate();
        let (gcm, wrapped) = master.new_data_key();
        assert!(wrapped.starts_with("v2:"), "new objects are GCM: {wrapped}");
        assert_eq!(gcm.cipher(), ChunkCipher::Aes256Gcm);
        // Objects written before v2 keep their CTR + HMAC chunks.
        let secret = [9u8; DATA_SECRET_BYTES];
        let v1 = master.wrap_secret(&secret, ChunkCipher::CtrHmacSha256);
        let ctr = master.unwrap_data_key(&v1).unwrap();
        assert_eq!(ctr.cipher(), ChunkCipher::CtrHmacSha256);
        let rewrapped = MasterKey::generate()
            .with_previous(vec![master])
            .rewrap_data_key(&v1)
            .unwrap()
            .unwrap();
        assert!(rewrapped.starts_with("v1:"), "a re-wrap keeps the cipher");
        for key in [gcm, ctr] {
            chunk_round_trip_and_tampering(&key);
        }
    }

    fn chunk_round_trip_and_tampering(key: &DataKey) {
        let plain: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut payload = plain.clone();
        let tag = key.seal_chunk(7, 3, false, &mut payload);
        assert_ne!(payload, plain, "encrypted in place");

        let open = |object_id, chunk_index, last, bytes: &[u8], tag: &[u8]| {
            let mut bytes = bytes.to_vec();
            key.open_chunk(object_id, chunk_index, last, &mut bytes, tag)
                .map(|()| bytes)
        };
        assert_eq!(open(7, 3, false, &payload, &tag).unwrap(), plain);
        assert!(
            open(7, 4, false, &payload, &tag).is_err(),
            "moved to another index"
        );
        assert!(
            open(8, 3, false, &payload, &tag).is_err(),
            "moved to another object"
        );
        assert!(
            open(7, 3, true, &payload, &tag).is_err(),
            "claimed to be the last chunk"
        );
        let mut flipped = payload.clone();
        flipped[100] ^= 1;
        assert!(open(7, 3, false, &flipped, &tag).is_err(), "flipped bit");
        let mut bad_tag = tag;
        bad_tag[0] ^= 1;
        assert!(
            open(7, 3, false, &payload, &bad_tag).is_err(),
            "flipped tag"
        );
        let mut bad_tail = tag;
        bad_tail[CHUNK_TAG_BYTES - 1] ^= 1;
        assert!(
            open(7, 3, false, &payload, &bad_tail).is_err(),
            "flipped last byte of the tag field"
        );
        assert!(key.verify_chunk_tag(7, 3, false, &payload, &tag).is_ok());
        assert!(key.verify_chunk_tag(7, 3, false, &flipped, &tag).is_err());
    }

    /// `ring`'s GCM, which seals, is the standard AES-256-GCM: RustCrypto's
    /// `aes-gcm` gives the same ciphertext and tag for the same key, nonce
    /// and associated data, and opens what `ring` sealed.
    #[test]
    fn gcm_chunks_are_standard_aes_256_gcm() {
        use aes_gcm::aead::{AeadInOut, KeyInit};
        let (key, _) = MasterKey::generate().new_data_key();
        let plain: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 253) as u8).collect();
        let mut sealed = plain.clone();
        let field = key.seal_chunk(0x1234_5678_9abc_def0_1122, 9, true, &mut sealed);
        assert_eq!(&field[GCM_TAG_BYTES..], &[0u8; 8]);
        let reference = aes_gcm::Aes256Gcm::new(&key.cipher_key.into());
        let nonce = DataKey::chunk_nonce(0x1234_5678_9abc_def0_1122, 9);
        let aad = DataKey::chunk_aad(0x1234_5678_9abc_def0_1122, 9, true);
        let mut theirs = plain.clone();
        let their_tag = reference
            .encrypt_inout_detached(&nonce.into(), &aad, theirs.as_mut_slice().into())
            .unwrap();
        assert_eq!(theirs, sealed);
        assert_eq!(their_tag.as_slice(), &field[..GCM_TAG_BYTES]);
        let mut opened = sealed.clone();
        reference
            .decrypt_inout_detached(
                &nonce.into(),
                &aad,
                opened.as_mut_slice().into(),
                &their_tag,
            )
            .unwrap();
        assert_eq!(opened, plain);
    }

    #[test]
    fn a_rotated_ring_opens_old_keys_and_rewraps_them_under_the_new_one() {
        let old = MasterKey::generate();
        let (key, wrapped_old) = old.new_data_key();
        let ring = MasterKey::generate().with_previous(vec![old.clone()]);
        assert_eq!(ring.previous_ids(), vec![old.id()]);
        let opened = ring
            .unwrap_data_key(&wrapped_old)
            .expect("old key still opens");
        assert_eq!(opened.mac_key, key.mac_key);
        let (_, wrapped_new) = ring.new_data_key();
        assert_eq!(wrapped_key_id(&wrapped_new).unwrap(), ring.id());
        let moved = ring
            .rewrap_data_key(&wrapped_old)
            .unwrap()
            .expect("an old-key data key moves");
        assert_eq!(wrapped_key_id(&moved).unwrap(), ring.id());
        assert_eq!(ring.unwrap_data_key(&moved).unwrap().mac_key, key.mac_key);
        assert_eq!(
            ring.rewrap_data_key(&moved).unwrap(),
            None,
            "already current"
        );
        // Without the old key in the ring, its data keys name a missing key.
        let alone = MasterKey::new(*ring.bytes());
        assert!(matches!(
            alone.unwrap_data_key(&wrapped_old),
            Err(CryptoError::UnknownMasterKey { .. })
        ));
    }

    #[test]
    fn master_key_debug_hides_the_key() {
        let master = MasterKey::new([0xAB; 32]);
        assert_eq!(format!("{master:?}"), format!("MasterKey({})", master.id()));
    }

    #[test]
    fn sealed_text_opens_with_its_key_ring_only() {
        let old = MasterKey::generate();
        let sealed = old.seal_text(b"mAxIoFs+Test/Secret");
        assert!(!sealed.contains("mAxIoFs"));
        assert_eq!(sealed_text_key_id(&sealed), Some(old.id()));
        assert_eq!(old.open_text(&sealed).unwrap(), b"mAxIoFs+Test/Secret");
        let rotated = MasterKey::generate().with_previous(vec![old.clone()]);
        assert_eq!(rotated.open_text(&sealed).unwrap(), b"mAxIoFs+Test/Secret");
        let stranger = MasterKey::generate();
        assert!(matches!(
            stranger.open_text(&sealed),
            Err(CryptoError::UnknownMasterKey { .. })
        ));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(old.open_text(&tampered).is_err());
        assert_eq!(sealed_text_key_id("plain-secret"), None);
    }
}
