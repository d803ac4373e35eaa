//! Notifications (E41, the E03 onboarding notice, DESIGN §11) really delivered: mail to a real
//! SMTP server (aiosmtpd), SMS and PUSH to local webhook receivers, INAPP into the inbox; each
//! delivery once, its outcome in `/events`, and the crash window resending the same Message-ID.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use roster_tests::{send, Options, SmtpSink, SseStream, TestApp, WebhookSink};
use serde_json::{json, Value};
use sha2::Sha256;
use workers::notifier::NotifierConfig;

const SECRET: &str = "webhook-secret";
const WAIT: Duration = Duration::from_secs(30);

fn notifier(smtp: &SmtpSink, sms: &WebhookSink, push: &WebhookSink) -> NotifierConfig {
    NotifierConfig {
        smtp_url: Some(smtp.url()),
        sms_webhook_url: Some(sms.url.clone()),
        push_webhook_url: Some(push.url.clone()),
        webhook_secret: Some(SECRET.into()),
        max_attempts: 3,
        first_retry: Duration::from_millis(50),
        ..NotifierConfig::default()
    }
}

async fn spawn(cfg: NotifierConfig) -> TestApp {
    TestApp::spawn_with(Options { notifier: Some(cfg), ..Options::default() }).await
}

async fn notify(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    send(app.wd(Method::POST, "/api/notifications/send", token).json(&body)).await
}

/// Sends and returns the id of the `NotificationRequested` event.
async fn sent(app: &TestApp, token: &str, body: Value) -> (String, uuid::Uuid) {
    let (status, v) = notify(app, token, body.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}: {v}");
    assert_eq!(v["success"], true);
    let id = v["notificationId"].as_str().unwrap().to_string();
    let event_id: uuid::Uuid =
        sqlx::query_scalar("SELECT event_id FROM events WHERE stream_id = $1::uuid AND event_type = 'NotificationRequested'")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    (id, event_id)
}

/// The header's value, folded lines joined.
fn message_id_of(mail: &str) -> Option<String> {
    let mut unfolded: Vec<String> = Vec::new();
    for line in mail.lines() {
        if line.is_empty() {
            break;
        }
        match unfolded.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line.trim_start()),
            _ => unfolded.push(line.to_string()),
        }
    }
    unfolded.iter().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("message-id").then(|| value.trim().to_string())
    })
}

fn mails_to(smtp: &SmtpSink, address: &str) -> Vec<String> {
    smtp.mails().into_iter().filter(|m| m.lines().any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains(address))).collect()
}

/// The outcome events recorded for `event_id` (event type, payload).
async fn outcomes(app: &TestApp, event_id: uuid::Uuid) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT event_type, payload FROM events WHERE stream_type = 'notification'
           AND event_type IN ('NotificationDelivered', 'NotificationFailed') AND payload->>'event_id' = $1 ORDER BY gid",
    )
    .bind(event_id.to_string())
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn wait_outcomes(app: &TestApp, event_id: uuid::Uuid, n: usize) -> Vec<(String, Value)> {
    app.eventually("the notifier's outcomes", WAIT, || async { outcomes(app, event_id).await.len() >= n }).await;
    outcomes(app, event_id).await
}

async fn inbox(app: &TestApp, token: &str) -> Value {
    let (status, v) = send(app.wd(Method::GET, "/api/notifications", token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

/// A rebuild of every projection (what `roster rebuild all` runs) replays notifications, their
/// deliveries, the inbox, tasks and their reminders into exactly the rows the live projector wrote.
async fn a_rebuild_reproduces_the_read_models(app: &TestApp) {
    app.eventually("the projections to apply every event", WAIT, || roster_tests::projections_caught_up(&app.pool)).await;
    let live = roster_tests::read_model_rows(&app.pool).await;
    for p in projections::ALL {
        workers::rebuild::rebuild(&app.pool, *p, false).await.unwrap_or_else(|e| panic!("rebuild {}: {e}", p.name));
    }
    let rebuilt = roster_tests::read_model_rows(&app.pool).await;
    roster_tests::assert_same_read_models(&live, &rebuilt, "a rebuild");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e41_checks_its_fields_and_recipients_stay_in_the_org() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Notify Checks").await;
    let other = app.create_org("Notify Elsewhere").await;
    let (m1, m1_token) = app.member(&org, "m1@checks.example.com").await;
    let (stranger, _) = app.member(&other, "stranger@elsewhere.example.com").await;

    let bad = [
        (json!({ "medium": "INAPP", "receiverUserIds": [m1] }), "title"),
        (json!({ "title": "t", "receiverUserIds": [m1] }), "medium"),
        (json!({ "title": "t", "medium": "FAX", "receiverUserIds": [m1] }), "medium"),
        (json!({ "title": "t", "medium": "EMAIL" }), "emails"),
        (json!({ "title": "t", "medium": "EMAIL", "emails": [] }), "emails"),
        (json!({ "title": "t", "medium": "INAPP" }), "receiverUserIds"),
        (json!({ "title": "t", "medium": "SMS", "receiverUserIds": null }), "receiverUserIds"),
        (json!({ "title": "t", "medium": "INAPP", "receiverUserIds": ["nope"] }), "receiverUserIds[0]"),
        (json!({ "title": "t", "medium": "INAPP", "receiverUserIds": [m1, stranger] }), "receiverUserIds[1]"),
        (json!({ "title": "t", "medium": "INAPP", "recieverUserIds": [stranger] }), "recieverUserIds[0]"),
        (json!({ "title": "t", "medium": "EMAIL", "emails": ["stranger@elsewhere.example.com"] }), "emails[0]"),
        (json!({ "title": "t", "medium": "EMAIL", "emails": ["not an email"] }), "emails[0]"),
        (json!({ "title": "t", "medium": "INAPP", "receiverUserIds": [m1], "emails": ["m1@checks.example.com"] }), "emails"),
        (json!({ "title": "t".repeat(301), "medium": "INAPP", "receiverUserIds": [m1] }), "title"),
    ];
    for (body, field) in bad {
        let (status, e) = notify(&app, &m1_token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {e}");
        let message = e["message"].as_str().unwrap();
        // The alias is reported under the documented spelling.
        let field = field.replace("recieverUserIds", "receiverUserIds");
        assert!(message.starts_with(&format!("{field}:")) || message.starts_with(&format!("{field} ")), "{body}: want {field}, got {e}");
    }
    let before = app.event_count().await;
    // Both spellings, case-insensitive media and emails, duplicates collapsed.
    sent(&app, &m1_token, json!({ "title": "Alias", "medium": "inapp", "recieverUserIds": [m1, m1] })).await;
    let (_, ev) = sent(&app, &org.token, json!({ "title": "Mail", "medium": "EMAIL", "emails": ["M1@Checks.example.com"] })).await;
    let payload: Value = sqlx::query_scalar("SELECT payload FROM events WHERE event_id = $1").bind(ev).fetch_one(&app.pool).await.unwrap();
    assert_eq!(payload["recipients"], json!([m1]));
    assert_eq!(app.event_count().await, before + 2, "no notifier here: the requests alone");
    let (status, _) = send(app.wd(Method::POST, "/api/notifications/send", "wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_medium_is_delivered_once_to_its_audience_only() {
    let smtp = SmtpSink::start().await;
    let (sms, push) = (WebhookSink::start().await, WebhookSink::start().await);
    let app = spawn(notifier(&smtp, &sms, &push)).await;
    let org = app.create_org("Notify Deliveries").await;
    let (m1, m1_token) = app.member(&org, "m1@deliveries.example.com").await;
    let (m2, m2_token) = app.member(&org, "m2@deliveries.example.com").await;

    // E03 with a complete profile: the onboarding notice goes to the new user, by mail.
    let (_, groups) = send(app.wd(Method::GET, "/api/security_groups", &org.token)).await;
    let group = groups["groups"][0]["id"].as_str().unwrap().to_string();
    let body = json!({
        "email": "newbie@deliveries.example.com", "firstName": "New", "lastName": "Bie", "phone": "+15550100",
        "designation": "Engineer", "defaultVisibility": "public", "securityGroup": group,
    });
    let (status, newbie) = send(app.wd(Method::POST, "/api/users/add", &org.token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{newbie}");
    let newbie = newbie["id"].as_str().unwrap().to_string();
    let notice: uuid::Uuid =
        sqlx::query_scalar("SELECT event_id FROM events WHERE stream_id = $1::uuid AND event_type = 'UserOnboardingNoticeRecorded'")
            .bind(&newbie)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let got = wait_outcomes(&app, notice, 1).await;
    assert_eq!(got[0].0, "NotificationDelivered", "{got:?}");
    let welcome = mails_to(&smtp, "newbie@deliveries.example.com");
    assert_eq!(welcome.len(), 1, "{welcome:?}");
    assert_eq!(message_id_of(&welcome[0]).unwrap(), format!("<{notice}.{newbie}@roster>"));
    assert_eq!(got[0].1["message_id"], format!("<{notice}.{newbie}@roster>"));

    // EMAIL by address: exactly one mail, its Message-ID derived from the request's event id.
    let (_, mail_ev) = sent(
        &app,
        &org.token,
        json!({ "title": "Hello by mail", "description": "Body text", "medium": "EMAIL", "emails": ["m2@deliveries.example.com"] }),
    )
    .await;
    wait_outcomes(&app, mail_ev, 1).await;
    let to_m2 = mails_to(&smtp, "m2@deliveries.example.com");
    assert_eq!(to_m2.len(), 1, "{to_m2:?}");
    assert_eq!(message_id_of(&to_m2[0]).unwrap(), format!("<{mail_ev}.{m2}@roster>"));
    assert!(to_m2[0].contains("Hello by mail") && to_m2[0].contains("Body text"));

    // INAPP: in m1's inbox, nobody else's; read once.
    let (inapp_id, inapp_ev) = sent(&app, &m2_token, json!({ "title": "In the app", "medium": "INAPP", "receiverUserIds": [m1] })).await;
    wait_outcomes(&app, inapp_ev, 1).await;
    app.eventually("the inbox", WAIT, || async { inbox(&app, &m1_token).await["meta"]["totalResults"] == 1 }).await;
    let page = inbox(&app, &m1_token).await;
    assert_eq!(page["notifications"][0]["id"], inapp_id.as_str());
    assert_eq!(page["notifications"][0]["title"], "In the app");
    assert_eq!(page["notifications"][0]["read"], false);
    assert_eq!(inbox(&app, &m2_token).await["meta"]["totalResults"], 0, "the sender is not a recipient");
    assert_eq!(inbox(&app, &org.token).await["meta"]["totalResults"], 0);
    let read = |token: &str| app.wd(Method::POST, &format!("/api/notifications/{inapp_id}/read"), token);
    assert_eq!(send(read(&m2_token)).await.0, StatusCode::NOT_FOUND, "not in m2's inbox");
    assert_eq!(send(read(&m1_token)).await.0, StatusCode::OK);
    assert_eq!(send(read(&m1_token)).await.0, StatusCode::OK);
    let page = inbox(&app, &m1_token).await;
    assert_eq!(page["notifications"][0]["read"], true);
    let (_, unread) = send(app.wd(Method::GET, "/api/notifications?unread=true", &m1_token)).await;
    assert_eq!(unread["meta"]["totalResults"], 0);

    // SMS and PUSH: one signed POST each, the signature checkable with the shared secret.
    let (_, sms_ev) = sent(&app, &org.token, json!({ "title": "Text me", "medium": "SMS", "receiverUserIds": [newbie] })).await;
    let (_, push_ev) = sent(&app, &org.token, json!({ "title": "Push me", "medium": "PUSH", "receiverUserIds": [m1, m2] })).await;
    wait_outcomes(&app, sms_ev, 1).await;
    wait_outcomes(&app, push_ev, 2).await;
    assert_eq!(sms.hooks().len(), 1);
    assert_eq!(push.hooks().len(), 2);
    for hook in sms.hooks().iter().chain(push.hooks().iter()) {
        let ts = hook.headers["roster-timestamp"].to_str().unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{ts}.").as_bytes());
        mac.update(&hook.body);
        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(hook.headers["roster-signature"].to_str().unwrap(), want);
    }
    let sms_body: Value = serde_json::from_slice(&sms.hooks()[0].body).unwrap();
    assert_eq!(sms_body["recipient"]["phone"], "+15550100");
    assert_eq!(sms_body["title"], "Text me");
    assert_eq!(sms_body["eventId"], sms_ev.to_string());

    // Every outcome is in the audit feed.
    let (_, page) = send(app.ps(Method::GET, "/events?event_type=NotificationDelivered&limit=100", &org.token)).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 6, "{page}");

    // A redelivery sends nothing: reset the notifier's consumer, so it reads the whole stream
    // again; a later notification proves it did, and nothing earlier went out twice.
    let js = async_nats::jetstream::new(app.nats().await);
    let stream = js.get_stream(&app.config.nats.stream).await.unwrap();
    stream.delete_consumer(workers::notifier::CONSUMER).await.unwrap();
    let (_, later) = sent(&app, &org.token, json!({ "title": "Later", "medium": "EMAIL", "emails": ["m1@deliveries.example.com"] })).await;
    wait_outcomes(&app, later, 1).await;
    assert_eq!(mails_to(&smtp, "m1@deliveries.example.com").len(), 1);
    assert_eq!(smtp.mails().len(), 3, "welcome, m2, later");
    assert_eq!((sms.hooks().len(), push.hooks().len()), (1, 2));
    for ev in [notice, mail_ev, inapp_ev, sms_ev] {
        assert_eq!(outcomes(&app, ev).await.len(), 1, "one outcome per delivery");
    }
    a_rebuild_reproduces_the_read_models(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_smtp_server_accepted_resends_the_same_message_id_and_an_outage_fails_after_retries() {
    let mut smtp = SmtpSink::start().await;
    let (sms, push) = (WebhookSink::start().await, WebhookSink::start().await);
    let crash = Arc::new(AtomicU32::new(0));
    let app = spawn(NotifierConfig { crash_after_send: crash.clone(), ..notifier(&smtp, &sms, &push) }).await;
    let org = app.create_org("Notify Crash").await;
    let (m1, _) = app.member(&org, "m1@crash.example.com").await;

    // Crash once after the server accepted and before the record: the resend has the same id.
    crash.store(1, Ordering::SeqCst);
    let (_, ev) = sent(&app, &org.token, json!({ "title": "Twice?", "medium": "EMAIL", "emails": ["m1@crash.example.com"] })).await;
    let got = wait_outcomes(&app, ev, 1).await;
    assert_eq!(got[0].0, "NotificationDelivered");
    assert_eq!(crash.load(Ordering::SeqCst), 0, "the failpoint fired");
    let mails = mails_to(&smtp, "m1@crash.example.com");
    assert_eq!(mails.len(), 2, "the window: sent, crashed, sent again");
    let want = format!("<{ev}.{m1}@roster>");
    assert_eq!(message_id_of(&mails[0]).unwrap(), want);
    assert_eq!(message_id_of(&mails[1]).unwrap(), want, "a mail system drops the duplicate by its Message-ID");

    // The SMTP server is down: a few attempts, then NotificationFailed; nothing arrives later.
    smtp.stop().await;
    let (_, down) = sent(&app, &org.token, json!({ "title": "Nobody home", "medium": "EMAIL", "emails": ["m1@crash.example.com"] })).await;
    let got = wait_outcomes(&app, down, 1).await;
    assert_eq!(got[0].0, "NotificationFailed", "{got:?}");
    assert_eq!(got[0].1["attempts"], 3);
    assert!(got[0].1["error"].as_str().unwrap().contains("SMTP"), "{got:?}");
    // The feed shows an event once every appending transaction older than it has ended
    // (`log::appenders_horizon`, so that it never skips one that commits later): wait for that.
    let failed_in_feed = || async {
        let (_, page) = send(app.ps(Method::GET, "/events?event_type=NotificationFailed", &org.token)).await;
        !page["events"].as_array().unwrap().is_empty()
    };
    app.eventually("the failure in the audit feed", WAIT, failed_in_feed).await;
    let (_, page) = send(app.ps(Method::GET, "/events?event_type=NotificationFailed", &org.token)).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1, "{page}");
    // A webhook that refuses (4xx) is a permanent failure: one attempt.
    push.status.store(410, Ordering::SeqCst);
    let (_, refused) = sent(&app, &org.token, json!({ "title": "Gone", "medium": "PUSH", "receiverUserIds": [m1] })).await;
    let got = wait_outcomes(&app, refused, 1).await;
    assert_eq!(got[0].0, "NotificationFailed", "{got:?}");
    assert_eq!(got[0].1["attempts"], 1);
    assert_eq!(push.hooks().len(), 1);
    let (_, sms_refused) = sent(&app, &org.token, json!({ "title": "Gone", "medium": "SMS", "receiverUserIds": [m1] })).await;
    let got = wait_outcomes(&app, sms_refused, 1).await;
    assert_eq!(got[0].0, "NotificationFailed", "{got:?}");
    assert_eq!(got[0].1["error"], "the recipient has no phone number", "checked before any POST");
    assert!(sms.hooks().is_empty());
    smtp.restart().await;
    assert_eq!(mails_to(&smtp, "m1@crash.example.com").len(), 2, "a failed delivery is not retried later");
}

/// The task reminder worker's `TaskReminderDue` reaches its assignees by the template's kind
/// (email → mail, push → the PUSH webhook), once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_reminders_reach_the_assignees() {
    let smtp = SmtpSink::start().await;
    let (sms, push) = (WebhookSink::start().await, WebhookSink::start().await);
    let app = spawn(notifier(&smtp, &sms, &push)).await;
    let org = app.create_org("Notify Reminders").await;
    let (bob, _) = app.member(&org, "bob@remind.example.com").await;
    let (carl, _) = app.member(&org, "carl@remind.example.com").await;
    let reminders = json!([
        { "reminderType": "email", "reminderTimeUnit": "minutes", "reminderTime": 0 },
        { "reminderType": "push", "reminderTimeUnit": "week", "reminderTime": 1 },
    ]);
    let (status, template) =
        send(app.wd(Method::POST, "/api/enforcement-templates", &org.token).json(&json!({ "title": "Due", "reminders": reminders }))).await;
    assert_eq!(status, StatusCode::CREATED, "{template}");
    // Due at once: both reminders (0 minutes and a week before) fall due. That an assignee who has
    // completed the task is left out is the reminder worker's rule (tests/e2e/tasks.rs).
    let task = json!({ "title": "Fire drill", "task_type": "Article", "content": "c", "dueDays": 0,
                       "notificationTemplateId": template["id"], "userIds": [bob, carl] });
    let (status, created) = send(app.wd(Method::POST, "/api/tasks", &org.token).json(&task)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let task_id = created["id"].as_str().unwrap().to_string();
    let due_events = || async {
        sqlx::query_scalar::<_, uuid::Uuid>("SELECT event_id FROM events WHERE stream_id = $1::uuid AND event_type = 'TaskReminderDue'")
            .bind(&task_id)
            .fetch_all(&app.pool)
            .await
            .unwrap()
    };
    app.eventually("both reminders due", WAIT, || async { due_events().await.len() == 2 }).await;
    for event in due_events().await {
        let got = wait_outcomes(&app, event, 2).await;
        assert!(got.iter().all(|(t, _)| t == "NotificationDelivered"), "{got:?}");
    }
    for address in ["bob@remind.example.com", "carl@remind.example.com"] {
        let mails = mails_to(&smtp, address);
        assert_eq!(mails.len(), 1, "{address}: {mails:?}");
        assert!(mails[0].contains("Reminder: Fire drill"), "{}", mails[0]);
    }
    let pushed: Vec<Value> = push.hooks().iter().map(|h| serde_json::from_slice(&h.body).unwrap()).collect();
    let mut to: Vec<&str> = pushed.iter().map(|p| p["recipient"]["userId"].as_str().unwrap()).collect();
    to.sort_unstable();
    let mut want = vec![bob.as_str(), carl.as_str()];
    want.sort_unstable();
    assert_eq!(to, want, "{pushed:?}");
    assert!(sms.hooks().is_empty());
    a_rebuild_reproduces_the_read_models(&app).await;
}

/// A delivery the inbox does not show yet when the stream's wait for the read models ends (the
/// projector stopped) ends the stream instead of being passed over; the client resumes after the
/// last item it got, and once the projector has caught up the delivery arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_stream_ends_rather_than_pass_over_what_the_read_models_lack() {
    let smtp = SmtpSink::start().await;
    let (sms, push) = (WebhookSink::start().await, WebhookSink::start().await);
    let first = spawn(notifier(&smtp, &sms, &push)).await;
    let org = first.create_org("Notify Behind").await;
    let (m1, m1_token) = first.member(&org, "m1@behind.example.com").await;
    let inapp = |title: &str| json!({ "title": title, "medium": "INAPP", "receiverUserIds": [m1.clone()] });
    let stream = |app: &TestApp| app.wd(Method::GET, "/api/notifications/stream", &m1_token);
    let mut s = SseStream::open(stream(&first), None).await;
    sent(&first, &org.token, inapp("seen")).await;
    let (p1, _) = s.expect("notification").await;
    drop(s);

    // No projector from here on: deliveries commit, the inbox stands still.
    let mut opts = first.same_log();
    opts.roles = roster::Roles { api: true, relay: true, projector: false, sealer: false, notifier: true };
    opts.notifier = Some(notifier(&smtp, &sms, &push));
    opts.consistency_timeout = Duration::from_millis(300);
    first.stop().await;
    let app = TestApp::spawn_with(opts).await;
    let mut s = SseStream::open(stream(&app), Some(&p1)).await;
    // Answered as pending (202, the read models do not show it): the log says which it is.
    let (status, v) = notify(&app, &org.token, inapp("behind")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let (behind, event): (String, uuid::Uuid) =
        sqlx::query_as("SELECT stream_id::text, event_id FROM events WHERE event_type = 'NotificationRequested' ORDER BY gid DESC LIMIT 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    wait_outcomes(&app, event, 1).await;
    assert!(s.next().await.is_none(), "the stream ends rather than pass over a delivery the inbox lacks");

    let mut projector = app.same_log();
    projector.roles = roster::Roles { api: false, relay: false, projector: true, sealer: false, notifier: false };
    let _projector = TestApp::spawn_with(projector).await;
    // Caught up before the resume: the API here waits only 300 ms, less than a projector's start
    // may take on a busy machine.
    app.eventually("the projector to catch up", WAIT, || roster_tests::projections_caught_up(&app.pool)).await;
    let mut s = SseStream::open(stream(&app), Some(&p1)).await;
    let (_, item) = s.expect("notification").await;
    assert_eq!(item["id"], behind.as_str(), "{item}");
    assert_eq!(item["title"], "behind");
}

/// The inbox as Server-Sent Events: a delivery made after the client connects reaches it; a
/// reconnect with `Last-Event-ID` gets every later one, once, in order; nobody else's arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_streams_and_resumes_without_gap_or_duplicate() {
    let smtp = SmtpSink::start().await;
    let (sms, push) = (WebhookSink::start().await, WebhookSink::start().await);
    let app = spawn(notifier(&smtp, &sms, &push)).await;
    let org = app.create_org("Notify Stream").await;
    let (m1, m1_token) = app.member(&org, "m1@stream.example.com").await;
    let (m2, _) = app.member(&org, "m2@stream.example.com").await;
    let open = |last: Option<String>| {
        let rb = app.wd(Method::GET, "/api/notifications/stream", &m1_token);
        async move { SseStream::open(rb, last.as_deref()).await }
    };
    let inapp = |to: &str, title: &str| json!({ "title": title, "medium": "INAPP", "receiverUserIds": [to] });

    let mut s = open(None).await;
    sent(&app, &org.token, inapp(&m2, "not for m1")).await;
    let (first, _) = sent(&app, &org.token, inapp(&m1, "one")).await;
    let (p1, item) = s.expect("notification").await;
    assert_eq!(item["id"], first.as_str(), "{item}");
    assert_eq!(item["title"], "one");
    drop(s);

    // Away: two more for m1 (and one for m2); the resume gets exactly m1's, in order, then live.
    let (second, second_ev) = sent(&app, &org.token, inapp(&m1, "two")).await;
    sent(&app, &org.token, inapp(&m2, "not for m1 either")).await;
    let (third, third_ev) = sent(&app, &org.token, inapp(&m1, "three")).await;
    wait_outcomes(&app, second_ev, 1).await;
    wait_outcomes(&app, third_ev, 1).await;
    let mut s = open(Some(p1)).await;
    let (_, a) = s.expect("notification").await;
    let (_, b) = s.expect("notification").await;
    assert_eq!((a["id"].as_str().unwrap(), b["id"].as_str().unwrap()), (second.as_str(), third.as_str()));
    let (fourth, _) = sent(&app, &org.token, inapp(&m1, "four")).await;
    let (_, c) = s.expect("notification").await;
    assert_eq!(c["id"], fourth.as_str(), "live after the replay, nothing repeated: {c}");

    let (status, v) = send(app.wd(Method::GET, "/api/notifications/stream", &m1_token).header("Last-Event-ID", "nope")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}
