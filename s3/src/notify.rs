//! Bucket event notifications, the data plane's half: the configuration
//! (Put/GetBucketNotificationConfiguration's document, AWS's validation and
//! its stored form), which events a request raises, the AWS event record
//! (`{"Records":[…]}`, event version 2.1) and the hand-over of records to the
//! durable queue the control plane keeps (`cluster::notify`).
//!
//! Owns: [`NotificationConfig`], the event names ([`EVENT_NAMES`]), the
//! [`EventQueue`] trait the queue implements and [`CommitEvents`], the
//! records of one change on their way to the queue.
//!
//! A request that changes an object builds its events before the commit and
//! sends them with it to the bucket's owner shard ([`CommitEvents`]), which
//! queues them right after the commit succeeds, in commit order, and gives
//! them their sequencer: every change of a bucket is committed by its owner,
//! so the events of one key are queued, and delivered, in the order of its
//! changes. The request awaits the queue's fdatasync when its response head
//! is sent (`RequestContext::send_head`): a client that got its 2xx knows the
//! event is on disk. A request whose bucket has no configuration pays one
//! `Option` check. Events are never dropped for lack of room: a write to a
//! bucket whose target queue is full is refused with 503 SlowDown before it
//! changes anything ([`refuse_when_full`]).

use std::fmt;
use std::sync::Arc;

use futures_channel::oneshot;
use serde_json::json;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::shard::BucketInfo;
use crate::xml::{child_once, child_text_once, parse_tree, root_expect, Node, XmlWriter};

/// The bucket setting holding the configuration, in the form [`NotificationConfig::to_xml`]
/// writes (what GetBucketNotificationConfiguration answers).
pub const SETTING_NOTIFICATION: &str = "notification";
/// The document's size at most (a configuration of 100 rules is about 40 KiB).
pub const NOTIFICATION_BODY_BYTES_MAX: usize = 256 * 1024;
/// Rules per bucket at most: every write to the bucket matches its key against them.
pub const RULES_MAX: usize = 100;
/// A rule's `Id`, in characters (AWS's limit).
const RULE_ID_CHARS_MAX: usize = 255;
/// A filter value is at most a key's length.
const FILTER_VALUE_BYTES_MAX: usize = 1024;

/// Every event name AWS accepts in a configuration. Only those this server
/// raises are ever delivered (docs/notifications.md lists them); the others
/// (restore, replication, tiering, lost RRS objects) are accepted and stay
/// silent, as on an AWS bucket where such things never happen.
pub const EVENT_NAMES: &[&str] = &[
    "s3:TestEvent",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:Replication:OperationNotTracked",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
];

/// The events this server raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventName {
    ObjectCreatedPut,
    ObjectCreatedPost,
    ObjectCreatedCopy,
    ObjectCreatedCompleteMultipartUpload,
    ObjectRemovedDelete,
    ObjectRemovedDeleteMarkerCreated,
    LifecycleExpirationDelete,
    LifecycleExpirationDeleteMarkerCreated,
    ObjectTaggingPut,
    ObjectTaggingDelete,
    ObjectAclPut,
}

/// Every event this server raises.
const RAISED: [EventName; 11] = [
    EventName::ObjectCreatedPut,
    EventName::ObjectCreatedPost,
    EventName::ObjectCreatedCopy,
    EventName::ObjectCreatedCompleteMultipartUpload,
    EventName::ObjectRemovedDelete,
    EventName::ObjectRemovedDeleteMarkerCreated,
    EventName::LifecycleExpirationDelete,
    EventName::LifecycleExpirationDeleteMarkerCreated,
    EventName::ObjectTaggingPut,
    EventName::ObjectTaggingDelete,
    EventName::ObjectAclPut,
];

impl EventName {
    /// The name a configuration uses (`s3:` and all).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ObjectCreatedPut => "s3:ObjectCreated:Put",
            Self::ObjectCreatedPost => "s3:ObjectCreated:Post",
            Self::ObjectCreatedCopy => "s3:ObjectCreated:Copy",
            Self::ObjectCreatedCompleteMultipartUpload => {
                "s3:ObjectCreated:CompleteMultipartUpload"
            }
            Self::ObjectRemovedDelete => "s3:ObjectRemoved:Delete",
            Self::ObjectRemovedDeleteMarkerCreated => "s3:ObjectRemoved:DeleteMarkerCreated",
            Self::LifecycleExpirationDelete => "s3:LifecycleExpiration:Delete",
            Self::LifecycleExpirationDeleteMarkerCreated => {
                "s3:LifecycleExpiration:DeleteMarkerCreated"
            }
            Self::ObjectTaggingPut => "s3:ObjectTagging:Put",
            Self::ObjectTaggingDelete => "s3:ObjectTagging:Delete",
            Self::ObjectAclPut => "s3:ObjectAcl:Put",
        }
    }

    /// Whether the event carries the object's size and ETag (creations do).
    fn describes_content(self) -> bool {
        matches!(
            self,
            Self::ObjectCreatedPut
                | Self::ObjectCreatedPost
                | Self::ObjectCreatedCopy
                | Self::ObjectCreatedCompleteMultipartUpload
        )
    }
}

/// Whether a configured name (`s3:ObjectCreated:*` or an exact name) covers `event`.
fn name_covers(configured: &str, event: &str) -> bool {
    match configured.strip_suffix('*') {
        Some(family) => event.starts_with(family),
        None => configured == event,
    }
}

/// Whether two configured names can cover a common event.
fn names_overlap(a: &str, b: &str) -> bool {
    name_covers(a, b) || name_covers(b, a)
}

/// Where a rule sends: AWS's three kinds of destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationKind {
    Queue,
    Topic,
    LambdaFunction,
}

impl DestinationKind {
    /// The configuration element and the element naming the destination's ARN.
    fn elements(self) -> (&'static str, &'static str) {
        match self {
            Self::Queue => ("QueueConfiguration", "Queue"),
            Self::Topic => ("TopicConfiguration", "Topic"),
            Self::LambdaFunction => ("CloudFunctionConfiguration", "CloudFunction"),
        }
    }
}

/// One rule: which events, for which keys, go where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationRule {
    pub id: String,
    pub kind: DestinationKind,
    /// The destination's ARN as configured (a target of the bucket owner's).
    pub arn: String,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

impl NotificationRule {
    /// Whether some event this server raises is one of the rule's.
    fn can_fire(&self) -> bool {
        RAISED.iter().any(|raised| {
            self.events
                .iter()
                .any(|name| name_covers(name, raised.as_str()))
        })
    }

    fn matches(&self, event: &str, key: &str) -> bool {
        self.events.iter().any(|name| name_covers(name, event))
            && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

/// A bucket's notification configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotificationConfig {
    pub rules: Vec<NotificationRule>,
    /// `<EventBridgeConfiguration/>` was given: kept and answered; there is
    /// no EventBridge here to send to (docs/notifications.md).
    pub event_bridge: bool,
}

fn invalid_argument(message: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message)
}

impl NotificationConfig {
    /// Parses and validates a PutBucketNotificationConfiguration body as AWS
    /// does; `destination_exists` says whether an ARN names a target the
    /// bucket's owner may send to (AWS's "Unable to validate the following
    /// destination configurations" otherwise).
    pub fn parse(body: &[u8], destination_exists: &dyn Fn(&str) -> bool) -> S3Result<Self> {
        let root = parse_tree(body)?;
        root_expect(&root, "NotificationConfiguration")?;
        let mut config = NotificationConfig::default();
        for child in &root.children {
            let kind = match child.name.as_str() {
                "QueueConfiguration" => DestinationKind::Queue,
                "TopicConfiguration" => DestinationKind::Topic,
                "CloudFunctionConfiguration" => DestinationKind::LambdaFunction,
                "EventBridgeConfiguration" => {
                    config.event_bridge = true;
                    continue;
                }
                other => {
                    return Err(crate::xml::malformed(&format!(
                        "unexpected element {other}"
                    )))
                }
            };
            config.rules.push(rule_parse(child, kind)?);
        }
        if config.rules.len() > RULES_MAX {
            return Err(invalid_argument(&format!(
                "A bucket may have at most {RULES_MAX} notification configurations."
            )));
        }
        config.overlap_check()?;
        if let Some(rule) = config.rules.iter().find(|rule| {
            rule.kind == DestinationKind::LambdaFunction || !destination_exists(&rule.arn)
        }) {
            return Err(invalid_argument(
                "Unable to validate the following destination configurations",
            )
            .with_detail("ArgumentName", rule.arn.clone())
            .with_detail("ArgumentValue", "The destination does not exist."));
        }
        let mut ids: Vec<&str> = config.rules.iter().map(|rule| rule.id.as_str()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(invalid_argument(
                "Same ID used for multiple configurations. IDs must be unique",
            ));
        }
        Ok(config)
    }

    /// AWS refuses two rules that could both fire for one event on one key.
    fn overlap_check(&self) -> S3Result<()> {
        let overlaps = |a: &Option<String>, b: &Option<String>, prefix: bool| match (a, b) {
            (Some(a), Some(b)) if prefix => a.starts_with(b.as_str()) || b.starts_with(a.as_str()),
            (Some(a), Some(b)) => a.ends_with(b.as_str()) || b.ends_with(a.as_str()),
            _ => true,
        };
        for (i, a) in self.rules.iter().enumerate() {
            for b in &self.rules[..i] {
                let common = a
                    .events
                    .iter()
                    .find(|x| b.events.iter().any(|y| names_overlap(x, y)));
                let Some(common) = common else { continue };
                if overlaps(&a.prefix, &b.prefix, true) && overlaps(&a.suffix, &b.suffix, false) {
                    if a.prefix.is_none()
                        && a.suffix.is_none()
                        && b.prefix.is_none()
                        && b.suffix.is_none()
                    {
                        return Err(invalid_argument(
                            "Configurations overlap. Configurations on the same bucket cannot \
                             share a common event type.",
                        )
                        .with_detail("ArgumentName", "Event")
                        .with_detail("ArgumentValue", format!("{common}, {common}")));
                    }
                    return Err(invalid_argument(
                        "Configuration is ambiguously defined. Cannot have overlapping suffixes \
                         in two rules if the prefixes are overlapping for the same event type.",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The stored form, which is also GetBucketNotificationConfiguration's answer.
    pub fn to_xml(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = XmlWriter::document(&mut out);
        w.open_root("NotificationConfiguration");
        for kind in [
            DestinationKind::Topic,
            DestinationKind::Queue,
            DestinationKind::LambdaFunction,
        ] {
            let (element, arn_element) = kind.elements();
            for rule in self.rules.iter().filter(|rule| rule.kind == kind) {
                w.open(element);
                w.text("Id", &rule.id);
                w.text(arn_element, &rule.arn);
                for event in &rule.events {
                    w.text("Event", event);
                }
                if rule.prefix.is_some() || rule.suffix.is_some() {
                    w.open("Filter");
                    w.open("S3Key");
                    for (name, value) in [("Prefix", &rule.prefix), ("Suffix", &rule.suffix)] {
                        if let Some(value) = value {
                            w.open("FilterRule");
                            w.text("Name", name);
                            w.text("Value", value);
                            w.close("FilterRule");
                        }
                    }
                    w.close("S3Key");
                    w.close("Filter");
                }
                w.close(element);
            }
        }
        if self.event_bridge {
            w.open("EventBridgeConfiguration");
            w.close("EventBridgeConfiguration");
        }
        w.close("NotificationConfiguration");
        out
    }

    /// Reads the stored form back; `None` if it does not parse (a damaged
    /// catalog leaves the bucket without notifications rather than failing).
    pub fn from_setting(text: &str) -> Option<Self> {
        NotificationConfig::parse(text.as_bytes(), &|_| true).ok()
    }

    /// The rules an event on `key` fires.
    pub fn matching<'c>(
        &'c self,
        event: EventName,
        key: &'c str,
    ) -> impl Iterator<Item = &'c NotificationRule> + 'c {
        self.rules
            .iter()
            .filter(move |rule| rule.matches(event.as_str(), key))
    }
}

fn rule_parse(node: &Node, kind: DestinationKind) -> S3Result<NotificationRule> {
    let (_, arn_element) = kind.elements();
    // The SDKs send `Queue`/`Topic`/`CloudFunction`; older documents use the
    // same names, so one spelling each is enough.
    let arn = child_text_once(node, arn_element)?
        .map(str::trim)
        .filter(|arn| !arn.is_empty())
        .ok_or_else(|| invalid_argument("A destination ARN is required"))?
        .to_owned();
    let id = match child_text_once(node, "Id")? {
        Some(id) if id.chars().count() > RULE_ID_CHARS_MAX => {
            return Err(invalid_argument(
                "The ID of a notification configuration is at most 255 characters",
            ))
        }
        Some(id) if !id.is_empty() => id.to_owned(),
        // AWS names a rule itself when the client did not.
        _ => generated_id(),
    };
    let mut events = Vec::new();
    for child in node.children.iter().filter(|c| c.name == "Event") {
        let name = child.text.trim();
        if !EVENT_NAMES.contains(&name) {
            return Err(
                invalid_argument("The event is not supported for notifications")
                    .with_detail("ArgumentName", "Event")
                    .with_detail("ArgumentValue", name.to_owned()),
            );
        }
        if !events.iter().any(|e: &String| e == name) {
            events.push(name.to_owned());
        }
    }
    if events.is_empty() {
        return Err(crate::xml::malformed(
            "a configuration needs at least one Event",
        ));
    }
    let (prefix, suffix) = match child_once(node, "Filter")? {
        Some(filter) => filter_parse(filter)?,
        None => (None, None),
    };
    for child in &node.children {
        if !matches!(child.name.as_str(), "Id" | "Event" | "Filter") && child.name != arn_element {
            return Err(crate::xml::malformed(&format!(
                "unexpected element {}",
                child.name
            )));
        }
    }
    Ok(NotificationRule {
        id,
        kind,
        arn,
        events,
        prefix,
        suffix,
    })
}

fn filter_parse(filter: &Node) -> S3Result<(Option<String>, Option<String>)> {
    let Some(s3_key) = child_once(filter, "S3Key")? else {
        return Ok((None, None));
    };
    let (mut prefix, mut suffix) = (None, None);
    for rule in &s3_key.children {
        if rule.name != "FilterRule" {
            return Err(crate::xml::malformed(&format!(
                "unexpected element {}",
                rule.name
            )));
        }
        let name = child_text_once(rule, "Name")?.unwrap_or("");
        let value = child_text_once(rule, "Value")?.unwrap_or("");
        if value.len() > FILTER_VALUE_BYTES_MAX {
            return Err(invalid_argument(
                "The value of a filter rule is at most 1024 bytes",
            ));
        }
        let slot = if name.eq_ignore_ascii_case("prefix") {
            &mut prefix
        } else if name.eq_ignore_ascii_case("suffix") {
            &mut suffix
        } else {
            return Err(
                invalid_argument("filter rule name must be either prefix or suffix")
                    .with_detail("ArgumentName", "FilterRule.Name")
                    .with_detail("ArgumentValue", name.to_owned()),
            );
        };
        if slot.is_some() {
            let which = if name.eq_ignore_ascii_case("prefix") {
                "prefix"
            } else {
                "suffix"
            };
            return Err(invalid_argument(&format!(
                "Cannot specify more than one {which} rule in a filter."
            ))
            .with_detail("ArgumentName", "FilterRule.Name")
            .with_detail("ArgumentValue", which));
        }
        // An empty value filters nothing; AWS keeps it as no filter too.
        *slot = Some(value.to_owned()).filter(|v| !v.is_empty());
    }
    Ok((prefix, suffix))
}

/// A rule name in the shape AWS generates (a base64 string of random bytes).
fn generated_id() -> String {
    use base64::Engine as _;
    let bytes: [u8; 27] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The ARN of a notification target: a queue of the tenant whose account
/// id it names. Topic rules name the same targets with `sns`.
pub fn target_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:maxiofs:sqs:{region}:{account_id}:{name}")
}

/// The target an ARN of a rule names: `(account id, target name)`. Queue
/// and topic ARNs both resolve (`sqs` and `sns`).
pub fn arn_target(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some("maxiofs"), Some("sqs" | "sns"), Some(_region)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let account = parts.next()?;
    let name = parts.next()?;
    (!account.is_empty() && !name.is_empty()).then_some((account, name))
}

/// One event record bound for one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedEvent {
    /// `<account id>/<target name>`: the queue it goes to.
    pub target: String,
    pub time_ms: u64,
    /// `{"Records":[…]}`, what the target receives.
    pub body: String,
}

/// The durable queue of events (implemented by the control plane's notifier).
pub trait EventQueue: Send + Sync {
    /// Appends the events to their targets' queues; `done` gets `true` once
    /// they are on stable storage, `false` if they could not be written.
    /// Never blocks.
    fn enqueue(&self, events: Vec<QueuedEvent>, done: oneshot::Sender<bool>);
    /// Whether the target's queue has no room for more events now.
    fn is_full(&self, target: &str) -> bool;
}

/// The queue as the shards hold it.
#[derive(Clone)]
pub struct EventSender(pub Arc<dyn EventQueue>);

impl fmt::Debug for EventSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventSender")
    }
}

/// The events of one change, built before its commit and queued by the
/// owner shard once the commit succeeded (dropped with it otherwise).
pub struct CommitEvents {
    queue: EventSender,
    /// `(target, time_ms, body before the sequencer, body after it)`.
    events: Vec<(String, u64, String, String)>,
    /// Told once the events are on disk.
    done: oneshot::Sender<bool>,
}

impl CommitEvents {
    /// Queues the events with `sequencer` (the owner's, taken now, in commit
    /// order). Never blocks.
    pub fn enqueue(self, sequencer: u64) {
        let events = self
            .events
            .into_iter()
            .map(|(target, time_ms, head, tail)| QueuedEvent {
                target,
                time_ms,
                body: format!("{head}{sequencer:016X}{tail}"),
            })
            .collect();
        self.queue.0.enqueue(events, self.done);
    }
}

/// Waits until a change's events are on disk. A change that did not commit
/// has none; a queue that could not write them loses them: the change is
/// committed and not undone, so this is logged (and counted by the queue),
/// and the request still succeeds.
pub async fn events_durable(done: oneshot::Receiver<bool>) {
    if done.await == Ok(false) {
        tracing::error!("bucket event notifications could not be queued");
    }
}

/// What happened to one object, as the event record describes it.
pub struct ObjectEvent<'a> {
    pub name: EventName,
    pub key: &'a str,
    pub size_bytes: u64,
    /// Without quotes.
    pub etag: &'a str,
    /// The version the event made or removed; `None` when unversioned.
    pub version_id: Option<&'a str>,
}

/// Who caused an event and through which request.
pub struct EventSource<'a> {
    pub region: &'a str,
    pub time_ms: u64,
    /// `AWS:<user id>` of the requester; empty for anonymous requests.
    pub principal_id: &'a str,
    pub source_ip: String,
    pub request_id: &'a str,
}

/// The sequencer's key in an event body: a JSON text holds a raw `"` only
/// around keys and values (one inside a string is escaped), so this occurs
/// once, whatever the rule's Id or the object's key.
const SEQUENCER_KEY: &str = "\"sequencer\":\"";
/// The sequencer's value until the commit gives it (`CommitEvents::enqueue`).
const SEQUENCER_PLACEHOLDER: &str = "0000000000000000";

/// The events a change of `bucket` raises, for its commit to carry, and
/// what tells when they are on disk; `None` when the bucket has no rule the
/// event fires (which costs one `Option` check without notifications).
pub fn record(
    queue: Option<&EventSender>,
    bucket: &BucketInfo,
    source: &EventSource<'_>,
    event: &ObjectEvent<'_>,
) -> Option<(CommitEvents, oneshot::Receiver<bool>)> {
    let (Some(config), Some(queue)) = (bucket.notification.as_deref(), queue) else {
        return None;
    };
    let mut events = Vec::new();
    for rule in config.matching(event.name, event.key) {
        let Some((account, name)) = arn_target(&rule.arn) else {
            continue;
        };
        let body = event_body(bucket, source, event, &rule.id);
        let at = body
            .find(SEQUENCER_KEY)
            .expect("every body has a sequencer")
            + SEQUENCER_KEY.len();
        let tail = body[at + SEQUENCER_PLACEHOLDER.len()..].to_owned();
        let mut head = body;
        head.truncate(at);
        events.push((format!("{account}/{name}"), source.time_ms, head, tail));
    }
    if events.is_empty() {
        return None;
    }
    let (done, durable) = oneshot::channel();
    let commit = CommitEvents {
        queue: queue.clone(),
        events,
        done,
    };
    Some((commit, durable))
}

/// 503 SlowDown when a target of this bucket's rules has no room: refusing
/// the write keeps every event of a committed change.
pub fn refuse_when_full(queue: Option<&EventSender>, bucket: &BucketInfo) -> S3Result<()> {
    let (Some(config), Some(queue)) = (bucket.notification.as_deref(), queue) else {
        return Ok(());
    };
    // Rules naming only events this server never raises need no room.
    let full = config
        .rules
        .iter()
        .filter(|rule| rule.can_fire())
        .any(|rule| {
            arn_target(&rule.arn)
                .is_some_and(|(account, name)| queue.0.is_full(&format!("{account}/{name}")))
        });
    if full {
        return Err(S3Error::new(
            S3ErrorCode::SlowDown,
            "Please reduce your request rate. (The bucket's event notification queue is full.)",
        ));
    }
    Ok(())
}

/// Form-encodes a key as AWS does in event records (spaces as `+`).
fn key_encoded(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn event_body(
    bucket: &BucketInfo,
    source: &EventSource<'_>,
    event: &ObjectEvent<'_>,
    configuration_id: &str,
) -> String {
    let mut object = serde_json::Map::new();
    object.insert("key".into(), key_encoded(event.key).into());
    if event.name.describes_content() {
        object.insert("size".into(), event.size_bytes.into());
        object.insert("eTag".into(), event.etag.into());
    }
    if let Some(version_id) = event.version_id {
        object.insert("versionId".into(), version_id.into());
    }
    object.insert("sequencer".into(), SEQUENCER_PLACEHOLDER.into());
    let principal = if source.principal_id.is_empty() {
        "Anonymous"
    } else {
        source.principal_id
    };
    let record = json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": source.region,
        "eventTime": crate::xml::format_timestamp(source.time_ms),
        "eventName": event.name.as_str().trim_start_matches("s3:"),
        "userIdentity": {"principalId": principal},
        "requestParameters": {"sourceIPAddress": source.source_ip},
        "responseElements": {
            "x-amz-request-id": source.request_id,
            "x-amz-id-2": source.request_id,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket.name,
                "ownerIdentity": {"principalId": bucket.owner_account},
                "arn": format!("arn:aws:s3:::{}", bucket.name),
            },
            "object": object,
        },
    });
    json!({ "Records": [record] }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> S3Result<NotificationConfig> {
        NotificationConfig::parse(xml.as_bytes(), &|arn| arn_target(arn).is_some())
    }

    const ARN: &str = "arn:maxiofs:sqs:us-east-1:123456789012:hook";

    fn queue(id: &str, events: &[&str], filter: &str) -> String {
        let events: String = events
            .iter()
            .map(|e| format!("<Event>{e}</Event>"))
            .collect();
        format!(
            "<QueueConfiguration><Id>{id}</Id><Queue>{ARN}</Queue>{events}{filter}</QueueConfiguration>"
        )
    }

    fn filter(prefix: &str, suffix: &str) -> String {
        let mut rules = String::new();
        if !prefix.is_empty() {
            rules +=
                &format!("<FilterRule><Name>prefix</Name><Value>{prefix}</Value></FilterRule>");
        }
        if !suffix.is_empty() {
            rules +=
                &format!("<FilterRule><Name>Suffix</Name><Value>{suffix}</Value></FilterRule>");
        }
        format!("<Filter><S3Key>{rules}</S3Key></Filter>")
    }

    fn document(rules: &[String]) -> String {
        format!(
            "<NotificationConfiguration>{}</NotificationConfiguration>",
            rules.concat()
        )
    }

    #[test]
    fn parses_renders_and_reads_back() {
        let xml = document(&[queue("a", &["s3:ObjectCreated:*"], &filter("img/", ".jpg"))]);
        let config = parse(&xml).unwrap();
        assert_eq!(config.rules.len(), 1);
        let rule = &config.rules[0];
        assert_eq!(
            (rule.prefix.as_deref(), rule.suffix.as_deref()),
            (Some("img/"), Some(".jpg"))
        );
        let stored = String::from_utf8(config.to_xml()).unwrap();
        assert!(
            stored.contains("<Name>Prefix</Name><Value>img/</Value>"),
            "{stored}"
        );
        assert_eq!(NotificationConfig::from_setting(&stored).unwrap(), config);
        assert_eq!(
            parse("<NotificationConfiguration/>").unwrap(),
            NotificationConfig::default()
        );
    }

    #[test]
    fn matches_names_prefixes_and_suffixes() {
        let xml = document(&[queue("a", &["s3:ObjectCreated:*"], &filter("img/", ".jpg"))]);
        let config = parse(&xml).unwrap();
        let hits = |event, key| config.matching(event, key).count();
        assert_eq!(hits(EventName::ObjectCreatedPut, "img/a.jpg"), 1);
        assert_eq!(hits(EventName::ObjectCreatedCopy, "img/a.jpg"), 1);
        assert_eq!(hits(EventName::ObjectCreatedPut, "img/a.png"), 0);
        assert_eq!(hits(EventName::ObjectCreatedPut, "doc/a.jpg"), 0);
        assert_eq!(hits(EventName::ObjectRemovedDelete, "img/a.jpg"), 0);
    }

    #[test]
    fn refuses_what_aws_refuses() {
        let code = |xml: String| parse(&xml).unwrap_err();
        let unknown = code(document(&[queue("a", &["s3:ObjectCreated:Nope"], "")]));
        assert_eq!(
            unknown.message,
            "The event is not supported for notifications"
        );
        let overlap = code(document(&[
            queue("a", &["s3:ObjectCreated:*"], ""),
            queue("b", &["s3:ObjectCreated:Put"], ""),
        ]));
        assert!(
            overlap.message.starts_with("Configurations overlap"),
            "{}",
            overlap.message
        );
        let ambiguous = code(document(&[
            queue("a", &["s3:ObjectCreated:*"], &filter("img/", "")),
            queue("b", &["s3:ObjectCreated:Put"], &filter("img/x", "")),
        ]));
        assert!(
            ambiguous.message.contains("ambiguously"),
            "{}",
            ambiguous.message
        );
        // Disjoint prefixes, or different events, do not overlap.
        parse(&document(&[
            queue("a", &["s3:ObjectCreated:*"], &filter("img/", "")),
            queue("b", &["s3:ObjectCreated:Put"], &filter("doc/", "")),
            queue("c", &["s3:ObjectRemoved:*"], ""),
        ]))
        .unwrap();
        let twice = code(document(&[queue(
            "a",
            &["s3:ObjectCreated:*"],
            "<Filter><S3Key><FilterRule><Name>prefix</Name><Value>a</Value></FilterRule>\
             <FilterRule><Name>prefix</Name><Value>b</Value></FilterRule></S3Key></Filter>",
        )]));
        assert_eq!(
            twice.message,
            "Cannot specify more than one prefix rule in a filter."
        );
        let bad_name = code(document(&[queue("a", &["s3:ObjectCreated:*"], "<Filter><S3Key><FilterRule><Name>infix</Name><Value>a</Value></FilterRule></S3Key></Filter>")]));
        assert_eq!(
            bad_name.message,
            "filter rule name must be either prefix or suffix"
        );
        let missing = NotificationConfig::parse(
            document(&[queue("a", &["s3:ObjectCreated:*"], "")]).as_bytes(),
            &|_| false,
        )
        .unwrap_err();
        assert_eq!(
            missing.message,
            "Unable to validate the following destination configurations"
        );
        let same_id = code(document(&[
            queue("a", &["s3:ObjectCreated:*"], ""),
            queue("a", &["s3:ObjectRemoved:*"], ""),
        ]));
        assert!(
            same_id.message.starts_with("Same ID"),
            "{}",
            same_id.message
        );
        for err in [
            unknown, overlap, ambiguous, twice, bad_name, missing, same_id,
        ] {
            assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        }
    }

    #[test]
    fn generates_ids_and_resolves_arns() {
        let config = parse(&document(&[queue("", &["s3:ObjectRemoved:*"], "")])).unwrap();
        assert_eq!(config.rules[0].id.len(), 36);
        assert_eq!(arn_target(ARN), Some(("123456789012", "hook")));
        assert_eq!(
            arn_target("arn:maxiofs:sns:us-east-1:123456789012:hook"),
            Some(("123456789012", "hook"))
        );
        assert_eq!(arn_target("arn:aws:sqs:us-east-1:123456789012:hook"), None);
        assert_eq!(arn_target("arn:maxiofs:sqs:us-east-1:123456789012:"), None);
    }

    #[test]
    fn encodes_keys_as_aws() {
        assert_eq!(key_encoded("a b/c+d.txt"), "a+b/c%2Bd.txt");
        assert_eq!(key_encoded("é"), "%C3%A9");
    }
}
