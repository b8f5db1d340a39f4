//! OpenID Connect: the provider's discovery document, its signing keys
//! (JWKS, refetched when a token names a key not yet seen, so key rotation
//! is followed), redeeming an authorization code, and checking ID tokens.
//!
//! Owns: which algorithms are accepted (asymmetric ones only: `alg: none`
//! does not parse and `HS*` is refused before any key is looked at, so a
//! provider's public key can never serve as an HMAC secret), the checks of
//! issuer, audience, expiry, not-before and nonce, and the bounds on what a
//! provider may send (document sizes, keys, refetch rate). Runs on
//! federation worker threads only. Main items: `OidcProvider`, `Discovery`,
//! `Claims`, `Cache`, `redeem_code`, `check_token`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::FederationError;
use crate::outbound::http_post::{self, HttpTarget};

/// Discovery documents and key sets are small; a provider sending more is
/// refused rather than read into memory.
const DOCUMENT_BYTES_MAX: usize = 256 * 1024;
/// Keys one JWKS may hold.
const KEYS_MAX: usize = 64;
/// How long a discovery document and a key set are trusted without asking again.
const CACHE_MS: u64 = 3600 * 1000;
/// A token naming an unknown key refetches the key set (a rotation), at most
/// this many times a minute, and a key id still unknown after a refetch
/// does not refetch again for a minute: made-up key ids cannot make us
/// hammer the provider.
const KEY_REFETCHES_PER_MINUTE: usize = 10;
/// How many unknown key ids are remembered per provider.
const MISSING_KIDS_MAX: usize = 256;
/// Clock difference tolerated on `exp`, `nbf` and `iat` (seconds).
const LEEWAY_S: u64 = 60;
/// A token longer than this is not an ID token.
pub const TOKEN_BYTES_MAX: usize = 16 * 1024;

/// A provider as a sign-in needs it, the client secret opened.
#[derive(Clone)]
pub struct OidcProvider {
    pub id: String,
    /// As configured, and as the tokens' `iss` must read.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub timeout: Duration,
    pub tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish()
    }
}

#[cfg(test)]
impl OidcProvider {
    pub fn for_tests(id: &str, issuer: &str) -> Self {
        OidcProvider {
            id: id.to_owned(),
            issuer: issuer.to_owned(),
            client_id: "client".into(),
            client_secret: "secret".into(),
            timeout: Duration::from_millis(500),
            tls: crate::outbound::tls::client_config_from_pem(None).expect("roots"),
        }
    }
}

/// The parts of the discovery document a sign-in uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// A checked token's claims.
#[derive(Debug, Clone)]
pub struct Claims {
    pub issuer: String,
    pub subject: String,
    pub audience: Vec<String>,
    /// Every claim, for mappings and trust-policy conditions.
    pub all: serde_json::Map<String, Value>,
}

impl Claims {
    pub fn string(&self, name: &str) -> Option<&str> {
        self.all.get(name).and_then(Value::as_str)
    }

    /// The values of a groups-like claim: an array of strings or one string.
    pub fn strings(&self, name: &str) -> Vec<String> {
        match self.all.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        }
    }
}

struct KeySet {
    keys: Arc<JwkSet>,
    fetched: Instant,
    /// When the set was fetched again for an unknown key id, in the last minute.
    refetches: Vec<Instant>,
    /// Key ids a refetch did not find, and when.
    missing: HashMap<String, Instant>,
}

impl KeySet {
    /// Whether a token naming `kid` (absent from the set) may refetch it.
    fn may_refetch_for(&mut self, kid: &str) -> bool {
        let minute = Duration::from_secs(60);
        self.refetches.retain(|at| at.elapsed() < minute);
        self.missing.retain(|_, at| at.elapsed() < minute);
        !self.missing.contains_key(kid) && self.refetches.len() < KEY_REFETCHES_PER_MINUTE
    }
}

/// Discovery documents and key sets per provider (not per issuer: each
/// provider fetches under its own trusted roots).
#[derive(Default)]
pub struct Cache {
    discoveries: Mutex<HashMap<String, (Arc<Discovery>, Instant)>>,
    keys: Mutex<HashMap<String, KeySet>>,
}

impl Cache {
    /// Forgets a provider's discovery document and keys (it was changed or
    /// deleted: its next use fetches them under its new settings).
    pub fn forget(&self, provider_id: &str) {
        self.discoveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(provider_id);
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(provider_id);
    }

    /// The provider's discovery document, from the cache while fresh.
    pub fn discovery(&self, provider: &OidcProvider) -> Result<Arc<Discovery>, FederationError> {
        {
            let cached = self.discoveries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((discovery, fetched)) = cached.get(&provider.id) {
                if fetched.elapsed() < Duration::from_millis(CACHE_MS) {
                    return Ok(Arc::clone(discovery));
                }
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            provider.issuer.trim_end_matches('/')
        );
        let document = get_json(provider, &url)?;
        // The document must be the configured issuer's (OIDC Discovery §4.3).
        if document.get("issuer").and_then(Value::as_str) != Some(provider.issuer.as_str()) {
            return Err(FederationError::Refused(
                "the discovery document names another issuer".into(),
            ));
        }
        let endpoint = |name: &str| {
            document
                .get(name)
                .and_then(Value::as_str)
                .filter(|url| HttpTarget::parse(url).is_ok())
                .map(str::to_owned)
                .ok_or_else(|| {
                    FederationError::Refused(format!("the discovery document has no usable {name}"))
                })
        };
        let discovery = Arc::new(Discovery {
            authorization_endpoint: endpoint("authorization_endpoint")?,
            token_endpoint: endpoint("token_endpoint")?,
            jwks_uri: endpoint("jwks_uri")?,
        });
        self.discoveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                provider.id.clone(),
                (Arc::clone(&discovery), Instant::now()),
            );
        Ok(discovery)
    }

    /// The key set, refetched when stale or when `kid` is not in it (within
    /// the refetch bounds).
    fn keys(
        &self,
        provider: &OidcProvider,
        kid: Option<&str>,
    ) -> Result<Arc<JwkSet>, FederationError> {
        let mut refetching_for = None;
        {
            let mut sets = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(set) = sets.get_mut(&provider.id) {
                let fresh = set.fetched.elapsed() < Duration::from_millis(CACHE_MS);
                match kid {
                    _ if !fresh => {}
                    None => return Ok(Arc::clone(&set.keys)),
                    Some(kid) if set.keys.find(kid).is_some() => return Ok(Arc::clone(&set.keys)),
                    Some(kid) if !set.may_refetch_for(kid) => return Ok(Arc::clone(&set.keys)),
                    Some(kid) => {
                        set.refetches.push(Instant::now());
                        refetching_for = Some(kid.to_owned());
                    }
                }
            }
        }
        let discovery = self.discovery(provider)?;
        let document = get_json(provider, &discovery.jwks_uri)?;
        let set: JwkSet = serde_json::from_value(document).map_err(|err| {
            FederationError::Refused(format!("the provider's key set does not parse: {err}"))
        })?;
        if set.keys.len() > KEYS_MAX {
            return Err(FederationError::Refused(format!(
                "the provider's key set has more than {KEYS_MAX} keys"
            )));
        }
        let set = Arc::new(set);
        let mut sets = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let entry = sets.entry(provider.id.clone()).or_insert_with(|| KeySet {
            keys: Arc::clone(&set),
            fetched: Instant::now(),
            refetches: Vec::new(),
            missing: HashMap::new(),
        });
        entry.keys = Arc::clone(&set);
        entry.fetched = Instant::now();
        if let Some(kid) = refetching_for.filter(|kid| set.find(kid).is_none()) {
            if entry.missing.len() < MISSING_KIDS_MAX {
                entry.missing.insert(kid, Instant::now());
            }
        }
        Ok(set)
    }
}

fn get_json(provider: &OidcProvider, url: &str) -> Result<Value, FederationError> {
    let target = HttpTarget::parse(url).map_err(FederationError::Refused)?;
    let answer = http_post::exchange(
        "GET",
        &target,
        Some(&provider.tls),
        None,
        &[],
        provider.timeout,
        DOCUMENT_BYTES_MAX,
    )
    .map_err(FederationError::Unavailable)?;
    if answer.status != 200 {
        return Err(FederationError::Unavailable(format!(
            "GET {target} answered {}",
            answer.status
        )));
    }
    serde_json::from_slice(&answer.body)
        .map_err(|err| FederationError::Refused(format!("GET {target}: not JSON: {err}")))
}

/// The algorithms an ID token may be signed with: public-key ones only.
fn accepted(algorithm: Algorithm) -> bool {
    !matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

/// The unverified `iss` of a token: which provider to check it with. Never
/// trusted on its own.
pub fn peek_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Checks a token's signature with the provider's keys and its claims:
/// issuer, audience (the provider's client id), expiry, not-before, and the
/// nonce when one was sent.
pub fn check_token(
    cache: &Cache,
    provider: &OidcProvider,
    token: &str,
    nonce: Option<&str>,
) -> Result<Claims, FederationError> {
    let invalid = |why: &str| FederationError::InvalidToken(why.to_owned());
    if token.len() > TOKEN_BYTES_MAX {
        return Err(invalid("the token is too long"));
    }
    // `alg: none` is not an algorithm jsonwebtoken knows: it fails here.
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| invalid("the token is not a signed JWT with a supported algorithm"))?;
    if !accepted(header.alg) {
        return Err(invalid("HMAC-signed tokens are not accepted"));
    }
    let keys = cache.keys(provider, header.kid.as_deref())?;
    let jwk = match header.kid.as_deref() {
        Some(kid) => keys.find(kid),
        // No key id: only a provider with a single signing key can be meant.
        None => match keys.keys.as_slice() {
            [only] => Some(only),
            _ => None,
        },
    }
    .ok_or_else(|| invalid("the token is signed by a key the provider does not publish"))?;
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return Err(invalid("the provider's key is symmetric"));
    }
    if let Some(key_algorithm) = &jwk.common.key_algorithm {
        if key_algorithm.to_string() != format!("{:?}", header.alg) {
            return Err(invalid("the token's algorithm is not its key's"));
        }
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid("the provider's key is unusable"))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_S;
    validation.validate_nbf = true;
    validation.set_issuer(&[provider.issuer.as_str()]);
    validation.set_audience(&[provider.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
        .map_err(|err| {
            use jsonwebtoken::errors::ErrorKind as Kind;
            match err.kind() {
                Kind::ExpiredSignature => FederationError::ExpiredToken,
                Kind::InvalidAudience => invalid("the token is for another audience"),
                Kind::InvalidIssuer => invalid("the token is from another issuer"),
                Kind::InvalidSignature => invalid("the token's signature does not verify"),
                Kind::ImmatureSignature => invalid("the token is not valid yet"),
                Kind::MissingRequiredClaim(claim) => {
                    FederationError::InvalidToken(format!("the token has no {claim} claim"))
                }
                _ => invalid("the token does not verify"),
            }
        })?;
    let all = data.claims;
    if let Some(expected) = nonce {
        if all.get("nonce").and_then(Value::as_str) != Some(expected) {
            return Err(invalid("the token's nonce is not this sign-in's"));
        }
    }
    let audience = match all.get("aud") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Ok(Claims {
        issuer: provider.issuer.clone(),
        subject: all
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        audience,
        all,
    })
}

/// Redeems an authorization code (with its PKCE verifier) at the token
/// endpoint and checks the ID token it answers.
pub fn redeem_code(
    cache: &Cache,
    provider: &OidcProvider,
    code: &str,
    code_verifier: &str,
    redirect_uri: &str,
    nonce: &str,
) -> Result<Claims, FederationError> {
    let discovery = cache.discovery(provider)?;
    let mut target =
        HttpTarget::parse(&discovery.token_endpoint).map_err(FederationError::Refused)?;
    let form = |value: &str| {
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    // client_secret_basic (RFC 6749 §2.3.1): both parts form-encoded first.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        form(&provider.client_id),
        form(&provider.client_secret)
    ));
    target.authorization = Some(format!("Basic {basic}"));
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
        form(code),
        form(redirect_uri),
        form(code_verifier)
    );
    let answer = http_post::exchange(
        "POST",
        &target,
        Some(&provider.tls),
        Some("application/x-www-form-urlencoded"),
        body.as_bytes(),
        provider.timeout,
        DOCUMENT_BYTES_MAX,
    )
    .map_err(FederationError::Unavailable)?;
    let document: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if answer.status != 200 {
        // invalid_grant: a code used twice, expired, or for another client.
        let error = document
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error code");
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect();
        return Err(if answer.status >= 500 {
            FederationError::Unavailable(format!("the token endpoint answered {}", answer.status))
        } else {
            FederationError::Refused(format!(
                "the provider refused the code ({error}); sign in again"
            ))
        });
    }
    let id_token = document
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or_else(|| FederationError::Refused("the provider answered no id_token".into()))?;
    check_token(cache, provider, id_token, Some(nonce))
}

/// A PKCE verifier (RFC 7636): 64 characters of the unreserved set.
pub fn new_code_verifier() -> String {
    crate::credentials::random_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~",
        64,
    )
}

/// The S256 challenge of a verifier.
pub fn code_challenge(verifier: &str) -> String {
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(value: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value)
    }

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let verifier = new_code_verifier();
        assert_eq!(verifier.len(), 64);
    }

    #[test]
    fn unsigned_and_hmac_tokens_are_refused_before_any_key_is_fetched() {
        // The provider's port is closed: reaching the network would say
        // "unavailable", not "invalid token".
        let provider = OidcProvider::for_tests("p", "http://127.0.0.1:9");
        let cache = Cache::default();
        let claims =
            b64(r#"{"iss":"http://127.0.0.1:9","sub":"a","aud":"client","exp":9999999999}"#);
        let none = format!("{}.{claims}.", b64(r#"{"alg":"none","typ":"JWT"}"#));
        let hs256 = format!("{}.{claims}.c2ln", b64(r#"{"alg":"HS256","typ":"JWT"}"#));
        for token in [none, hs256, "not a token".to_owned()] {
            assert!(
                matches!(
                    check_token(&cache, &provider, &token, None),
                    Err(FederationError::InvalidToken(_))
                ),
                "{token}"
            );
        }
        assert_eq!(
            peek_issuer(&format!("x.{claims}.y")).as_deref(),
            Some("http://127.0.0.1:9")
        );
    }
}
