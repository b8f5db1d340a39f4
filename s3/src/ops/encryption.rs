//! A bucket's default encryption: GetBucketEncryption, PutBucketEncryption,
//! DeleteBucketEncryption.
//!
//! The configuration lives in the catalog (the control plane writes it) and
//! reaches every shard in the catalog snapshot as `BucketInfo::encryption`;
//! the writes of new objects read it there (`sse::key_for_new_object`). A
//! bucket without one follows the server's default, which is also what
//! GetBucketEncryption reports for it.
//!
//! SSE-S3 (`AES256`) and SSE-KMS (`aws:kms`, `aws:kms:dsse`, with or
//! without a `KMSMasterKeyID`) can be configured. As on AWS, the key is
//! looked up when an object is written, not here. SSE-S3 on a server
//! without a master key could not encrypt what the configuration asks for
//! (`InvalidRequest`).

use crate::body::BodyIntegrity;
use std::rc::Rc;

use http::{BodyLen, Exchange};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::RequestContext;
use crate::shard::{BucketInfo, ControlRequest, Shard};
use crate::sse::{BucketEncryption, DefaultAlgorithm, EncryptionSettings, SSE_AES256};
use crate::xml::{self, EncryptionRule};

/// The `EncryptionType` that blocks nothing; any other blocked type asks for
/// a restriction this server does not enforce.
const BLOCKED_ENCRYPTION_NONE: &str = "NONE";

pub async fn get_bucket_encryption(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    // A bucket that never set one reports the server's default, as AWS reports
    // SSE-S3 for buckets that never set one; with encryption off there is none.
    let default_aes = BucketEncryption {
        algorithm: DefaultAlgorithm::Aes256,
        bucket_key_enabled: false,
    };
    let encryption = match &bucket.encryption {
        Some(encryption) => encryption,
        None if shard.settings.encryption.encrypt_new_objects => &default_aes,
        None => {
            return Err(S3Error::new(
                S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError,
                "The server side encryption configuration was not found",
            ))
        }
    };
    let (algorithm, key_id) = match &encryption.algorithm {
        DefaultAlgorithm::Aes256 => (SSE_AES256, None),
        DefaultAlgorithm::Kms { dsse, key_id } => (
            if *dsse {
                crate::sse::SSE_KMS_DSSE
            } else {
                crate::sse::SSE_KMS
            },
            key_id.as_deref(),
        ),
    };
    let mut out = Vec::new();
    xml::server_side_encryption_configuration(
        &mut out,
        algorithm,
        key_id,
        encryption.bucket_key_enabled,
    );
    ctx.respond_xml(ex, out).await
}

pub async fn put_bucket_encryption(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    // AWS requires Content-MD5 (or, from the 2025 SDKs, a checksum) here.
    let body = ctx
        .read_xml_body_checked(ex, BodyIntegrity::Required)
        .await?;
    let rule = xml::parse_server_side_encryption_configuration(&body)?;
    let encryption = put_bucket_encryption_check(&shard.settings.encryption, &rule)?;
    set_bucket_encryption(shard, &bucket, Some(encryption)).await?;
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}

pub async fn delete_bucket_encryption(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    set_bucket_encryption(shard, &bucket, None).await?;
    ctx.respond(ex, 204, &[], BodyLen::Empty).await
}

/// What a PutBucketEncryption rule becomes on this server, or why it cannot
/// be kept: no key id without KMS (as AWS), no blocking of encryption types,
/// and no SSE-S3 without a master key to encrypt with.
fn put_bucket_encryption_check(
    settings: &EncryptionSettings,
    rule: &EncryptionRule,
) -> S3Result<BucketEncryption> {
    let algorithm = match rule.sse_algorithm.as_str() {
        SSE_AES256 => DefaultAlgorithm::Aes256,
        kms @ (crate::sse::SSE_KMS | crate::sse::SSE_KMS_DSSE) => {
            let key_id = rule.kms_master_key_id.clone();
            if key_id.as_deref().is_some_and(|id| {
                id.len() > 2048 || id.contains('|') || id.chars().any(char::is_control)
            }) {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "The KMSMasterKeyID is not a valid key id, key ARN or alias.",
                ));
            }
            DefaultAlgorithm::Kms {
                dsse: kms == crate::sse::SSE_KMS_DSSE,
                key_id,
            }
        }
        other => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("The SSEAlgorithm {other} is not valid."),
            ))
        }
    };
    if rule.kms_master_key_id.is_some() && algorithm == DefaultAlgorithm::Aes256 {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or \
             aws:kms:dsse",
        ));
    }
    let blocked = &rule.blocked_encryption_types;
    if blocked.iter().any(|t| t != BLOCKED_ENCRYPTION_NONE) {
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "BlockedEncryptionTypes is not supported on this server.",
        ));
    }
    // Storing the configuration would promise encryption that every PUT to
    // the bucket would then fail to deliver.
    if settings.master.is_none() && algorithm == DefaultAlgorithm::Aes256 {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Server-side encryption is not configured on this server: it has no master key. \
             Start it with one (--master-key-file or MAXIOFS_MASTER_KEY) to set a bucket's \
             default encryption.",
        ));
    }
    Ok(BucketEncryption {
        algorithm,
        bucket_key_enabled: rule.bucket_key_enabled,
    })
}

/// Has the control plane store the change; it answers once every shard holds
/// the snapshot with it, so the next request anywhere follows it.
async fn set_bucket_encryption(
    shard: &Rc<Shard>,
    bucket: &BucketInfo,
    encryption: Option<BucketEncryption>,
) -> S3Result<()> {
    let bucket_id = bucket.id;
    shard
        .control(|reply| ControlRequest::SetBucketEncryption {
            bucket_id,
            encryption,
            reply,
        })
        .await
        .map_err(|err| err.with_resource(format!("/{}", bucket.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::crypto::MasterKey;

    fn with_key() -> EncryptionSettings {
        EncryptionSettings {
            master: Some(MasterKey::generate()),
            encrypt_new_objects: false,
        }
    }

    fn rule(sse_algorithm: &str) -> EncryptionRule {
        EncryptionRule {
            sse_algorithm: sse_algorithm.into(),
            kms_master_key_id: None,
            bucket_key_enabled: false,
            blocked_encryption_types: Vec::new(),
        }
    }

    fn code(settings: &EncryptionSettings, rule: &EncryptionRule) -> Option<S3ErrorCode> {
        put_bucket_encryption_check(settings, rule)
            .err()
            .map(|err| err.code)
    }

    #[test]
    fn sse_s3_is_kept_with_its_bucket_key_flag() {
        let mut aes = rule("AES256");
        aes.bucket_key_enabled = true;
        let kept = put_bucket_encryption_check(&with_key(), &aes).unwrap();
        assert_eq!(
            kept,
            BucketEncryption {
                algorithm: DefaultAlgorithm::Aes256,
                bucket_key_enabled: true
            }
        );
        aes.blocked_encryption_types = vec!["NONE".into()];
        assert_eq!(code(&with_key(), &aes), None);
    }

    #[test]
    fn kms_is_kept_and_key_ids_need_it() {
        let settings = with_key();
        assert_eq!(code(&settings, &rule("aws:kms")), None);
        let mut dsse = rule("aws:kms:dsse");
        dsse.kms_master_key_id = Some("alias/backups".into());
        assert_eq!(
            put_bucket_encryption_check(&settings, &dsse).unwrap(),
            BucketEncryption {
                algorithm: DefaultAlgorithm::Kms {
                    dsse: true,
                    key_id: Some("alias/backups".into())
                },
                bucket_key_enabled: false
            }
        );
        let mut aes_with_key_id = rule("AES256");
        aes_with_key_id.kms_master_key_id = Some("arn:aws:kms:us-east-1:1234/5678".into());
        assert_eq!(
            code(&settings, &aes_with_key_id),
            Some(S3ErrorCode::InvalidArgument)
        );
        let mut blocking = rule("AES256");
        blocking.blocked_encryption_types = vec!["SSE-C".into()];
        assert_eq!(
            code(&settings, &blocking),
            Some(S3ErrorCode::NotImplemented)
        );
    }

    #[test]
    fn no_master_key_no_bucket_encryption() {
        let settings = EncryptionSettings::default();
        let err = put_bucket_encryption_check(&settings, &rule("AES256")).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidRequest);
        assert_eq!(err.code.status(), 400);
        assert!(err.message.contains("no master key"), "{}", err.message);
        // SSE-KMS needs no master key to encrypt with: the key store's keys do.
        assert_eq!(code(&settings, &rule("aws:kms")), None);
    }
}
