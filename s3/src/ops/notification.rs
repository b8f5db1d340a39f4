//! Get/PutBucketNotificationConfiguration: a bucket's event notification
//! rules (`crate::notify` validates them and raises the events). The rules
//! are kept as the bucket setting `notification`, in the form GET answers.
//! A rule's destination must be a notification target of the bucket owner's
//! tenant (configured by a system admin through the admin API); AWS's
//! destination check is this lookup, so `x-amz-skip-destination-validation`
//! changes nothing.

use std::rc::Rc;

use http::{BodyLen, Exchange};

use crate::error::S3Result;
use crate::notify::{
    arn_target, NotificationConfig, NOTIFICATION_BODY_BYTES_MAX, SETTING_NOTIFICATION,
};
use crate::ops::RequestContext;
use crate::shard::Shard;

pub async fn get_bucket_notification(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    // Without rules, AWS answers the empty document.
    let body = bucket
        .notification
        .as_deref()
        .cloned()
        .unwrap_or_default()
        .to_xml();
    ctx.respond_xml(ex, body).await
}

pub async fn put_bucket_notification(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = crate::body::read_small_body(
        ex,
        &ctx.payload,
        NOTIFICATION_BODY_BYTES_MAX,
        crate::body::HeaderChecksums::OfBody,
    )
    .await?;
    let catalog = shard.catalog();
    // The target's own ARN (queue or topic form), of the bucket owner's tenant.
    let region = &shard.settings.region;
    let destination_exists = |arn: &str| {
        arn_target(arn).is_some_and(|(account, name)| {
            let queue = crate::notify::target_arn(region, account, name);
            let topic = queue.replacen(":sqs:", ":sns:", 1);
            account == bucket.owner_account
                && (arn == queue || arn == topic)
                && catalog
                    .notification_targets
                    .contains(&format!("{account}/{name}"))
        })
    };
    let config = NotificationConfig::parse(&body, &destination_exists)?;
    let stored = (!config.rules.is_empty() || config.event_bridge)
        .then(|| String::from_utf8(config.to_xml()).expect("the writer makes UTF-8"));
    crate::ops::versioning::set_setting(shard, &bucket, SETTING_NOTIFICATION, stored).await?;
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}
