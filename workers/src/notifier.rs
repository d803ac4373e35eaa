//! The notifier (DESIGN §11): delivers what the log asks to be told — E41's
//! `NotificationRequested`, E03's `UserOnboardingNoticeRecorded` and the task reminder worker's
//! `TaskReminderDue` — by EMAIL (SMTP, or `.eml`
//! files in an outbox for `roster dev`), SMS and PUSH (HMAC-signed JSON POSTs to webhooks) and
//! INAPP (the inbox is the projection of the recorded delivery), and records every outcome as an
//! event (`NotificationDelivered` / `NotificationFailed`) through the command path.
//!
//! It reads its own durable JetStream pull consumer (filtered to those event types); one
//! instance is active at a time (an advisory lock), the others stand by. Why nobody is told twice:
//! - A delivery is keyed by (event id, recipient, medium). Its outcome is an event on the
//!   notification's stream, and the aggregate refuses a second outcome for the same key, so the
//!   record itself is exactly-once (the log's optimistic concurrency settles any race).
//! - Before sending, the notifier asks that stream whether the key has an outcome; a redelivered
//!   message (a restart, a lost ack, a reset consumer reading the whole stream again) finds it and
//!   sends nothing. The message is acked only after every recipient's outcome is recorded.
//! - The one window left is a crash after the transport accepted and before the outcome was
//!   recorded: the redelivery sends again. A mail then carries the same `Message-ID` (derived from
//!   the event id and the recipient, never random), so mail systems drop the duplicate; a webhook
//!   gets the same `Roster-Delivery-Id` to deduplicate on; an INAPP delivery sends nothing outside.
//! - Nobody outside the audience: at delivery time the recipient must still be a live user of the
//!   event's organization (the read model's answer, after it has caught up with the event);
//!   anyone else gets nothing, recorded as `NotificationFailed` with zero attempts.
//! - A transient failure (connection refused, 4xx SMTP reply, 5xx/timeout from a webhook) is
//!   retried with exponential backoff up to `max_attempts`; a permanent one (5xx SMTP reply, a
//!   webhook's 4xx, no address) is recorded at once. Either way the message is acked: the outcome
//!   is in the log, and what to do about it is the audit feed's reader's decision.
//! - An infrastructure failure (Postgres away, a failed record) is not an outcome: the message is
//!   nak'ed, redelivered after a backoff, and goes through the same checks. NATS away ends the
//!   subscription; the worker re-enters and the unacked message comes again after `ack_wait`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, AckKind};
use commands::handlers::notification as cmd;
use commands::{CommandContext, Store};
use domain::library::ReminderType;
use domain::notification::{onboarding_stream_id, reminder_stream_id, Medium, NotificationEvent, Outcome};
use domain::task::TaskEvent;
use domain::user::{OnboardingRecipient, UserEvent};
use domain::{DomainEvent, OrgId, UserId};
use eventlog::Envelope;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use lettre::message::{header::ContentType, Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use projections::content::notifications::{addressee, Addressee};
use sha2::Sha256;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{nats_err, NatsConfig, Shutdown, WorkerError};

/// The durable consumer's name.
pub const CONSUMER: &str = "notifier";
/// The header carrying `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub const SIGNATURE_HEADER: &str = "Roster-Signature";
/// The header carrying the Unix time the signature covers (a receiver refuses old ones: replay).
pub const TIMESTAMP_HEADER: &str = "Roster-Timestamp";
/// The same for every attempt at one delivery: `<event id>.<recipient id>`.
pub const DELIVERY_ID_HEADER: &str = "Roster-Delivery-Id";
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long the notifier waits for the directory to know a new recipient before asking anyway.
const CATCH_UP: Duration = Duration::from_secs(10);
const TRANSPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how notifications go (`roster serve` flags / env, see the README).
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// `smtp://[user:password@]host[:port]` (plain SMTP, for a local relay). None: the outbox.
    pub smtp_url: Option<String>,
    /// Where mails go as `.eml` files when there is no SMTP server (`roster dev`). Neither: EMAIL
    /// deliveries fail (recorded).
    pub outbox_dir: Option<PathBuf>,
    /// The `From` of every mail.
    pub mail_from: String,
    pub sms_webhook_url: Option<String>,
    pub push_webhook_url: Option<String>,
    /// The HMAC-SHA256 key of the webhooks' signature (required when a webhook is configured).
    pub webhook_secret: Option<String>,
    /// Attempts at one delivery before `NotificationFailed`.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles each time, up to 30 s.
    pub first_retry: Duration,
    /// Requests older than this when first seen are not delivered (a new consumer over a long
    /// stream history must not mail everyone about last year).
    pub max_age: Duration,
    /// Test support: this many times, "crash" (fail the worker) after the transport accepted a
    /// delivery and before its outcome is recorded.
    pub crash_after_send: Arc<AtomicU32>,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            smtp_url: None,
            outbox_dir: None,
            mail_from: "Roster <roster@localhost>".into(),
            sms_webhook_url: None,
            push_webhook_url: None,
            webhook_secret: None,
            max_attempts: 5,
            first_retry: Duration::from_millis(500),
            max_age: Duration::from_secs(24 * 3600),
            crash_after_send: Arc::new(AtomicU32::new(0)),
        }
    }
}

impl NotifierConfig {
    /// Refuses a configuration that could only fail later: a webhook without a secret, an SMTP
    /// URL that is not plain `smtp://`, a `From` that is no mailbox.
    pub fn check(&self) -> Result<(), String> {
        if (self.sms_webhook_url.is_some() || self.push_webhook_url.is_some()) && self.webhook_secret.as_deref().unwrap_or("").is_empty() {
            return Err("a notification webhook is configured without ROSTER_WEBHOOK_SECRET (its requests are signed)".into());
        }
        if let Some(url) = &self.smtp_url {
            smtp_transport(url)?;
        }
        self.mail_from.parse::<Mailbox>().map_err(|e| format!("ROSTER_MAIL_FROM: {e}"))?;
        Ok(())
    }
}

/// The subjects the notifier reads under `prefix`.
pub fn subjects(prefix: &str) -> Vec<String> {
    vec![
        format!("{prefix}.*.notification.*.NotificationRequested"),
        format!("{prefix}.*.user.*.UserOnboardingNoticeRecorded"),
        format!("{prefix}.*.task.*.TaskReminderDue"),
    ]
}

fn smtp_transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("ROSTER_SMTP_URL: {e}"))?;
    if parsed.scheme() != "smtp" {
        return Err(format!("ROSTER_SMTP_URL: only plain smtp:// is supported (to a local relay), not {}://", parsed.scheme()));
    }
    let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or("ROSTER_SMTP_URL: no host")?;
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(parsed.port().unwrap_or(25)).timeout(Some(TRANSPORT_TIMEOUT));
    if !parsed.username().is_empty() {
        builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
            percent_decode(parsed.username()),
            percent_decode(parsed.password().unwrap_or("")),
        ));
    }
    Ok(builder.build())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The Message-ID of the mail `event_id` asks to send to `recipient`: the same on every attempt
/// and every redelivery, so a mail system drops a resent duplicate.
pub fn message_id(event_id: Uuid, recipient: Uuid) -> String {
    format!("<{event_id}.{recipient}@roster>")
}

/// `sha256=<hex>` over `<timestamp>.<body>` with `secret`: what a webhook receiver recomputes.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub async fn run(pool: PgPool, nats: NatsConfig, cfg: NotifierConfig, shutdown: Shutdown) -> Result<(), WorkerError> {
    crate::supervise("notifier", MAX_BACKOFF, shutdown, |sd| {
        let (pool, nats, cfg) = (pool.clone(), nats.clone(), cfg.clone());
        Box::pin(async move { active(&pool, &nats, &cfg, sd).await })
    })
    .await
}

struct Notifier<'a> {
    pool: &'a PgPool,
    store: Store,
    cfg: &'a NotifierConfig,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    http: reqwest::Client,
}

async fn active(pool: &PgPool, nats: &NatsConfig, cfg: &NotifierConfig, shutdown: &mut Shutdown) -> Result<(), WorkerError> {
    let Some(mut leader) = crate::lead(pool, &format!("roster-notifier:{}", nats.stream), shutdown).await? else { return Ok(()) };
    let smtp = cfg.smtp_url.as_deref().map(smtp_transport).transpose().map_err(WorkerError::Nats)?;
    let http = reqwest::Client::builder().timeout(TRANSPORT_TIMEOUT).build().map_err(|e| WorkerError::Nats(e.to_string()))?;
    let n = Notifier { pool, store: Store::new(pool.clone()), cfg, smtp, http };
    let js = crate::connect(nats).await?;
    let stream = crate::ensure_stream(&js, nats).await?;
    // Unlike a projection's, this consumer is kept across restarts: its ack floor is the notifier's
    // progress. A new one reads the whole stream; the outcome check and `max_age` make that safe.
    let consumer = stream
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.into()),
                filter_subjects: subjects(&nats.subject_prefix),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                deliver_policy: jetstream::consumer::DeliverPolicy::All,
                // Retries of a slow transport may outlast it; a redelivery meanwhile is harmless.
                ack_wait: nats.ack_wait.max(Duration::from_secs(60)),
                max_ack_pending: 1000,
                ..Default::default()
            },
        )
        .await
        .map_err(nats_err)?;
    let mut messages = crate::pull(consumer).await?;
    tracing::info!(stream = %nats.stream, "notifier active");
    let mut backoff = crate::Backoff::new(MAX_BACKOFF);
    loop {
        let next = tokio::select! {
            m = messages.next() => m,
            _ = shutdown.wait() => return Ok(()),
        };
        let Some(m) = next else { return Err(WorkerError::Nats("message stream ended".into())) };
        let m = m.map_err(nats_err)?;
        let event: Envelope = match serde_json::from_slice(&m.payload) {
            Ok(e) => e,
            Err(e) => {
                // Not an event: nothing to deliver, and nothing a retry would change.
                tracing::error!(subject = %m.subject, error = %e, "notifier: not an event envelope; skipped");
                m.ack().await.map_err(nats_err)?;
                continue;
            }
        };
        match n.handle(&event, shutdown).await {
            Ok(true) => {
                m.ack().await.map_err(nats_err)?;
                backoff.reset();
            }
            Ok(false) => return Ok(()), // stopping; the message comes again
            Err(e) => {
                // The message comes again after the backoff, to this same subscription: a new one
                // would leave the old pull request to swallow it until `ack_wait` ran out.
                let backoff = backoff.step();
                tracing::warn!(event_id = %event.event_id, error = %e, ?backoff, "notifier interrupted; retrying the event");
                let _ = m.ack_with(AckKind::Nak(Some(backoff))).await;
                // Still the active notifier? (The lock goes with a lost Postgres session.)
                leader.confirm().await?;
                if !shutdown.sleep(backoff).await {
                    return Ok(());
                }
            }
        }
    }
}

/// One delivery to make.
struct Job<'e> {
    /// The notification stream its outcome goes on.
    stream: Uuid,
    org: OrgId,
    event: &'e Envelope,
    recipient: UserId,
    medium: Medium,
    what: What,
}

enum What {
    Notice {
        title: String,
        description: String,
        notification_id: Uuid,
    },
    /// The onboarding notice of `new_user`, for the user themselves or their supervisor.
    Onboarding {
        new_user: Uuid,
        to: OnboardingRecipient,
        reason: String,
    },
    /// A reminder of the enforcement template of an assigned task the recipient has not done.
    Reminder {
        title: String,
        due_date: chrono::DateTime<chrono::Utc>,
    },
}

enum Failure {
    Transient(String),
    Permanent(String),
}

impl Notifier<'_> {
    /// Delivers everything `event` asks for; false when told to stop first.
    async fn handle(&self, event: &Envelope, shutdown: &mut Shutdown) -> Result<bool, WorkerError> {
        let Some(org) = event.org_id.map(OrgId) else { return Ok(true) };
        let age = chrono::Utc::now().signed_duration_since(event.recorded_at);
        if age.to_std().is_ok_and(|a| a > self.cfg.max_age) {
            tracing::info!(event_id = %event.event_id, "notifier: skipping a request older than max_age");
            return Ok(true);
        }
        let jobs: Vec<Job> = match event.stream_type.as_str() {
            NotificationEvent::STREAM_TYPE => {
                let Ok(NotificationEvent::NotificationRequested { id, medium, recipients, title, description, .. }) =
                    NotificationEvent::from_parts(&event.event_type, event.schema_rev, event.payload.clone())
                else {
                    return Ok(true);
                };
                recipients
                    .into_iter()
                    .map(|recipient| Job {
                        stream: event.stream_id,
                        org,
                        event,
                        recipient,
                        medium,
                        what: What::Notice { title: title.clone(), description: description.clone(), notification_id: id },
                    })
                    .collect()
            }
            UserEvent::STREAM_TYPE => {
                let Ok(UserEvent::UserOnboardingNoticeRecorded { recipient, recipient_user_id: Some(to_user), reason, .. }) =
                    UserEvent::from_parts(&event.event_type, event.schema_rev, event.payload.clone())
                else {
                    return Ok(true);
                };
                vec![Job {
                    stream: onboarding_stream_id(event.event_id),
                    org,
                    event,
                    recipient: to_user,
                    medium: Medium::Email,
                    what: What::Onboarding { new_user: event.stream_id, to: recipient, reason },
                }]
            }
            TaskEvent::STREAM_TYPE => {
                let Ok(TaskEvent::TaskReminderDue { assignees, reminder_type, title, due_date, .. }) =
                    TaskEvent::from_parts(&event.event_type, event.schema_rev, event.payload.clone())
                else {
                    return Ok(true);
                };
                // The template's reminder kinds; `restrict` is an access rule, never copied into a task.
                let medium = match reminder_type {
                    ReminderType::Email => Medium::Email,
                    ReminderType::Push => Medium::Push,
                    ReminderType::Text => Medium::Sms,
                    ReminderType::Restrict => return Ok(true),
                };
                assignees
                    .into_iter()
                    .map(|recipient| Job {
                        stream: reminder_stream_id(event.event_id),
                        org,
                        event,
                        recipient,
                        medium,
                        what: What::Reminder { title: title.clone(), due_date },
                    })
                    .collect()
            }
            _ => return Ok(true),
        };
        self.caught_up(event, shutdown).await?;
        for job in jobs {
            if !self.deliver(&job, shutdown).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Waits (boundedly) until the directory has applied `event`, so the audience question about a
    /// user created in the same write is answered by a read model that knows them.
    async fn caught_up(&self, event: &Envelope, shutdown: &mut Shutdown) -> Result<(), WorkerError> {
        let deadline = tokio::time::Instant::now() + CATCH_UP;
        while projections::checkpoint::read(self.pool, "directory").await?.position < event.position {
            if tokio::time::Instant::now() > deadline || !shutdown.sleep(Duration::from_millis(50)).await {
                break;
            }
        }
        Ok(())
    }

    /// One recipient: nothing if the outcome is recorded, else send (retrying) and record.
    async fn deliver(&self, job: &Job<'_>, shutdown: &mut Shutdown) -> Result<bool, WorkerError> {
        let key = (job.event.event_id, job.recipient, job.medium);
        if cmd::has_outcome(&self.store, job.stream, key.0, key.1, key.2).await? {
            return Ok(true);
        }
        let Some(to) = addressee(self.pool, job.org.0, job.recipient.0).await? else {
            self.record(job, 0, Err("the recipient is not a member of the organization".into())).await?;
            return Ok(true);
        };
        let mut attempt = 0;
        let mut wait = self.cfg.first_retry;
        let result = loop {
            attempt += 1;
            match self.send(job, &to).await {
                Ok(message_id) => break Ok(message_id),
                Err(Failure::Permanent(e)) => break Err(e),
                Err(Failure::Transient(e)) if attempt >= self.cfg.max_attempts.max(1) => break Err(e),
                Err(Failure::Transient(e)) => {
                    tracing::warn!(event_id = %key.0, recipient = %key.1.0, medium = key.2.as_str(), attempt, error = %e, "delivery failed; retrying");
                    if !shutdown.sleep(wait).await {
                        return Ok(false);
                    }
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        };
        if result.is_ok() && self.cfg.crash_after_send.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(WorkerError::Nats("failpoint: crashed after the transport accepted, before the record".into()));
        }
        self.record(job, attempt, result).await?;
        Ok(true)
    }

    async fn record(&self, job: &Job<'_>, attempts: u32, result: Result<Option<String>, String>) -> Result<(), WorkerError> {
        let now = chrono::Utc::now();
        match &result {
            Ok(_) => {
                tracing::info!(event_id = %job.event.event_id, recipient = %job.recipient.0, medium = job.medium.as_str(), "notification delivered")
            }
            Err(e) => {
                tracing::warn!(event_id = %job.event.event_id, recipient = %job.recipient.0, medium = job.medium.as_str(), error = %e, "notification failed")
            }
        }
        let outcome = Outcome { event_id: job.event.event_id, recipient: job.recipient, medium: job.medium, attempts, at: now, result };
        let mut ctx = CommandContext::system("notifier", now);
        ctx.org_id = Some(job.org);
        cmd::record_outcome(&self.store, &ctx, job.org, job.stream, outcome).await?;
        Ok(())
    }

    /// One attempt; the mail's Message-ID on success.
    async fn send(&self, job: &Job<'_>, to: &Addressee) -> Result<Option<String>, Failure> {
        match job.medium {
            Medium::Inapp => Ok(None),
            Medium::Email => self.mail(job, to).await.map(Some),
            Medium::Sms => self.webhook(self.cfg.sms_webhook_url.as_deref(), "SMS", job, to).await.map(|()| None),
            Medium::Push => self.webhook(self.cfg.push_webhook_url.as_deref(), "PUSH", job, to).await.map(|()| None),
        }
    }

    async fn content(&self, job: &Job<'_>) -> Result<(String, String), Failure> {
        match &job.what {
            What::Notice { title, description, .. } => Ok((title.clone(), description.clone())),
            What::Onboarding { new_user, to, reason } => {
                let who = addressee(self.pool, job.org.0, *new_user).await.map_err(|e| Failure::Transient(e.to_string()))?;
                let name =
                    who.as_ref().map(|u| format!("{} {} <{}>", u.first_name, u.last_name, u.email)).unwrap_or_else(|| new_user.to_string());
                Ok(match to {
                    OnboardingRecipient::Supervisor => (
                        format!("Complete the onboarding of {name}"),
                        format!("{name} joined your team and is waiting for you to complete their profile ({reason})."),
                    ),
                    _ => (
                        "Welcome to Roster".to_string(),
                        format!("Hello {name}, you have been invited to join your organization on Roster."),
                    ),
                })
            }
            What::Reminder { title, due_date } => Ok((
                format!("Reminder: {title}"),
                format!("The task \"{title}\" assigned to you is due on {}.", due_date.format("%Y-%m-%d %H:%M UTC")),
            )),
        }
    }

    async fn mail(&self, job: &Job<'_>, to: &Addressee) -> Result<String, Failure> {
        let (subject, body) = self.content(job).await?;
        let id = message_id(job.event.event_id, job.recipient.0);
        let mailbox = format!("{} {} <{}>", to.first_name, to.last_name, to.email)
            .parse::<Mailbox>()
            .or_else(|_| to.email.parse::<Mailbox>())
            .map_err(|e| Failure::Permanent(format!("the recipient's email cannot be mailed: {e}")))?;
        let from = self.cfg.mail_from.parse::<Mailbox>().map_err(|e| Failure::Permanent(format!("the sender address: {e}")))?;
        let message = Message::builder()
            .message_id(Some(id.clone()))
            .from(from)
            .to(mailbox)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        if let Some(smtp) = &self.smtp {
            return match smtp.send(message).await {
                Ok(_) => Ok(id),
                Err(e) if e.is_permanent() => Err(Failure::Permanent(format!("SMTP: {e}"))),
                Err(e) => Err(Failure::Transient(format!("SMTP: {e}"))),
            };
        }
        let Some(dir) = &self.cfg.outbox_dir else {
            return Err(Failure::Permanent("no SMTP server is configured (ROSTER_SMTP_URL)".into()));
        };
        // Named by the delivery key: a resend overwrites the same file.
        let name = format!("{}-{}.eml", job.event.event_id, job.recipient.0);
        let write = async {
            tokio::fs::create_dir_all(dir).await?;
            let tmp = dir.join(format!(".{name}.tmp"));
            tokio::fs::write(&tmp, message.formatted()).await?;
            tokio::fs::rename(&tmp, dir.join(&name)).await
        };
        write.await.map_err(|e| Failure::Transient(format!("outbox {}: {e}", dir.display())))?;
        Ok(id)
    }

    async fn webhook(&self, url: Option<&str>, channel: &str, job: &Job<'_>, to: &Addressee) -> Result<(), Failure> {
        let Some(url) = url else { return Err(Failure::Permanent(format!("no {channel} webhook is configured"))) };
        if job.medium == Medium::Sms && to.phone.as_deref().unwrap_or("").trim().is_empty() {
            return Err(Failure::Permanent("the recipient has no phone number".into()));
        }
        let (title, description) = self.content(job).await?;
        let notification_id = match &job.what {
            What::Notice { notification_id, .. } => *notification_id,
            What::Onboarding { .. } | What::Reminder { .. } => job.stream,
        };
        let delivery_id = format!("{}.{}", job.event.event_id, job.recipient.0);
        let body = serde_json::to_vec(&serde_json::json!({
            "deliveryId": delivery_id,
            "eventId": job.event.event_id,
            "notificationId": notification_id,
            "orgId": job.org.0,
            "medium": job.medium.as_str(),
            "recipient": { "userId": to.id, "email": to.email, "phone": to.phone },
            "title": title,
            "description": description,
        }))
        .map_err(|e| Failure::Permanent(e.to_string()))?;
        let secret = self.cfg.webhook_secret.as_deref().unwrap_or("");
        let timestamp = chrono::Utc::now().timestamp();
        let resp = self
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .header(SIGNATURE_HEADER, signature(secret.as_bytes(), timestamp, &body))
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(DELIVERY_ID_HEADER, &delivery_id)
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::Transient(format!("{channel} webhook: {e}")))?;
        let status = resp.status();
        match status.as_u16() {
            200..=299 => Ok(()),
            408 | 425 | 429 => Err(Failure::Transient(format!("{channel} webhook answered {status}"))),
            400..=499 => Err(Failure::Permanent(format!("{channel} webhook answered {status}"))),
            _ => Err(Failure::Transient(format!("{channel} webhook answered {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_derived_from_the_event_and_recipient() {
        let (e, r) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(message_id(e, r), message_id(e, r));
        assert_ne!(message_id(e, r), message_id(e, Uuid::from_u128(3)));
        assert!(message_id(e, r).starts_with(&format!("<{e}.")) && message_id(e, r).ends_with('>'));
    }

    #[test]
    fn signatures_cover_the_timestamp_and_body() {
        let s = signature(b"k", 10, b"{}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64);
        assert_ne!(s, signature(b"k", 11, b"{}"));
        assert_ne!(s, signature(b"k2", 10, b"{}"));
    }

    #[test]
    fn only_plain_smtp_urls_and_signed_webhooks_are_accepted() {
        let ok = NotifierConfig { smtp_url: Some("smtp://u:p%40ss@127.0.0.1:2525".into()), ..NotifierConfig::default() };
        assert!(ok.check().is_ok());
        assert!(NotifierConfig { smtp_url: Some("smtps://h".into()), ..NotifierConfig::default() }.check().is_err());
        assert!(NotifierConfig { sms_webhook_url: Some("http://h".into()), ..NotifierConfig::default() }.check().is_err());
        assert_eq!(percent_decode("p%40ss"), "p@ss");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
