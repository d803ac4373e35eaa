//! Calendar events (WorkDrive E19–E22), RSVP, recurring series and the iCalendar feed, over HTTP.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use domain::calendar::Tz;
use reqwest::{Method, StatusCode};
use roster_tests::{send, send_raw, TestApp};
use serde_json::{json, Value};

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, e) = send(app.wd(Method::POST, "/api/events/meeting", token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}: {e}");
    e
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, page) = send(app.wd(Method::GET, &format!("/api/events?{query}"), token)).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page
}

fn titles(page: &Value) -> Vec<String> {
    page["events"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap().to_string()).collect()
}

fn bad(status: StatusCode, e: &Value, field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {e}");
    assert!(e["message"].as_str().unwrap().starts_with(field), "{field}: {e}");
}

async fn log_types(app: &TestApp, stream: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM public.events WHERE stream_id = $1::uuid ORDER BY gid")
        .bind(stream)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn create_update_delete_with_every_field_and_errors() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Events").await;
    let (guest, _) = app.member(&org, "guest@events.example.com").await;
    let (_, other_token) = app.member(&org, "other@events.example.com").await;
    let (status, c) =
        send(app.wd(Method::POST, "/api/categories", &org.token).json(&json!({ "moduleCode": 2, "category": "Town hall" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let poster = crate::media::uploaded(&app, &org, "image/png", b"\x89PNG poster").await;

    let e = create(
        &app,
        &org.token,
        json!({
            "title": " All hands ", "description": "Quarterly", "externalLink": [{ "title": "Agenda", "url": "https://x.example/a" }],
            "userIds": [guest], "conferenceLink": "https://meet.example/1", "location": "HQ",
            "startDateTime": "2030-05-01T09:00:00+02:00", "endtDateTime": "2030-05-01T10:30:00+02:00", "posterId": poster,
            "isVirtual": true, "tags": ["q2"], "type": "2", "externalUserEmails": ["ext@partner.example"], "category": "town hall",
            "isMeeting": true, "videoPreviewIds": [], "duration": 90, "conversationId": "conv-1", "timeZone": "Europe/Berlin",
            "permissions": { "onlyMe": false, "public": false }
        }),
    )
    .await;
    assert_eq!(e["title"], "All hands");
    assert_eq!(e["startDateTime"], "2030-05-01T07:00:00Z");
    assert_eq!(e["endDateTime"], "2030-05-01T08:30:00Z");
    assert_eq!((e["type"].as_str(), e["category"].as_str(), e["isMeeting"].as_bool()), (Some("EVENT"), Some("Town hall"), Some(true)));
    assert_eq!(e["poster"]["id"], poster.as_str());
    assert_eq!(e["creator"]["id"], org.admin_id.as_str());
    assert_eq!(e["userIds"], json!([guest]));
    assert_eq!(e["externalAttendees"], json!(["ext@partner.example"]));
    assert_eq!((e["permissions"]["public"].as_bool(), e["permissions"]["onlyMe"].as_bool()), (Some(false), Some(false)));
    assert_eq!((e["going"].as_i64(), &e["myRsvp"], &e["livestream"], &e["repeatId"]), (Some(0), &Value::Null, &Value::Null, &Value::Null));
    assert_eq!(
        (e["timeZone"].as_str(), e["duration"].as_i64(), e["isExternalEvent"].as_bool()),
        (Some("Europe/Berlin"), Some(90), Some(false))
    );
    let id = e["id"].as_str().unwrap().to_string();

    // The alias creates too; the default type and zone.
    let (status, l) = send(
        app.wd(Method::POST, "/api/events", &org.token)
            .json(&json!({ "title": "Stream", "type": "LIVESTREAM", "startDateTime": "2030-05-02T09:00:00Z", "duration": 30 })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{l}");
    assert_eq!(
        (l["type"].as_str(), l["timeZone"].as_str(), l["endDateTime"].as_str()),
        (Some("LIVESTREAM"), Some("UTC"), Some("2030-05-02T09:30:00Z"))
    );

    let start = json!("2030-01-01T10:00:00Z");
    for (body, field) in [
        (json!({ "startDateTime": start }), "title"),
        (json!({ "title": "x" }), "startDateTime"),
        (json!({ "title": "x", "startDateTime": "tomorrow" }), "startDateTime"),
        (json!({ "title": "x", "startDateTime": start, "endDateTime": "2029-12-31T10:00:00Z" }), "endDateTime"),
        (json!({ "title": "x", "startDateTime": start, "type": 1 }), "type"),
        (json!({ "title": "x", "startDateTime": start, "category": "nope" }), "category"),
        (json!({ "title": "x", "startDateTime": start, "timeZone": "Mars/Base" }), "timeZone"),
        (json!({ "title": "x", "startDateTime": start, "duration": -1 }), "duration"),
        (json!({ "title": "x", "startDateTime": start, "externalUserEmails": ["a@b.c", "nope"] }), "externalUserEmails[1]"),
        (json!({ "title": "x", "startDateTime": start, "userIds": [uuid::Uuid::nil()] }), "userIds[0]"),
        (json!({ "title": "x", "startDateTime": start, "posterId": uuid::Uuid::nil() }), "posterId"),
        (json!({ "title": "x", "startDateTime": start, "videoPreviews": [uuid::Uuid::nil()] }), "videoPreviewIds[0]"),
        (json!({ "title": "x".repeat(501), "startDateTime": start }), "title"),
        (
            json!({ "title": "x", "startDateTime": start, "repeat": { "config": { "frequency": 3600, "ends": { "config": { "date": "2030-02-01" } } } } }),
            "repeat.config.frequency",
        ),
    ] {
        let (status, err) = send(app.wd(Method::POST, "/api/events/meeting", &org.token).json(&body)).await;
        bad(status, &err, field);
    }

    // PATCH: the author (or an admin) changes; a reader who may not see it gets 404, one who may 403.
    let (status, p) = send(
        app.wd(Method::PATCH, &format!("/api/events/{id}"), &org.token)
            .json(&json!({ "title": "All hands (moved)", "location": null, "startDateTime": "2030-05-01T10:00:00+02:00", "tags": null })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(
        (p["title"].as_str(), &p["location"], p["tags"].as_array().map(Vec::len)),
        (Some("All hands (moved)"), &Value::Null, Some(0))
    );
    assert_eq!(
        (p["startDateTime"].as_str(), p["endDateTime"].as_str()),
        (Some("2030-05-01T08:00:00Z"), Some("2030-05-01T09:30:00Z")),
        "the length is kept"
    );
    let (status, err) = send(app.wd(Method::PATCH, &format!("/api/events/{id}"), &org.token).json(&json!({ "title": null }))).await;
    bad(status, &err, "title");
    let (status, err) = send(app.wd(Method::PATCH, &format!("/api/events/{id}?repeat=some"), &org.token).json(&json!({}))).await;
    bad(status, &err, "repeat");
    let (status, _) = send(app.wd(Method::PATCH, &format!("/api/events/{id}"), &other_token).json(&json!({ "title": "mine" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        send(app.wd(Method::PATCH, &format!("/api/events/{}", l["id"].as_str().unwrap()), &other_token).json(&json!({ "title": "mine" })))
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/events/{}", l["id"].as_str().unwrap()), &other_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/events/{id}"), &org.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/events/{id}"), &org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(log_types(&app, &id).await, ["EventScheduled", "EventChanged", "EventCancelled"]);
}

#[tokio::test]
async fn lists_filter_page_and_answer_only_what_the_reader_may_see() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Lists").await;
    let other = app.create_org("Other Lists").await;
    let (guest, guest_token) = app.member(&org, "guest@lists.example.com").await;
    let (_, bystander) = app.member(&org, "by@lists.example.com").await;
    send(app.wd(Method::POST, "/api/categories", &org.token).json(&json!({ "moduleCode": "EVENT", "category": "Sales" }))).await;
    let ev = |title: &str, start: &str, end: &str| json!({ "title": title, "startDateTime": start, "endDateTime": end });
    create(&app, &org.token, ev("past", "2020-01-01T09:00:00Z", "2020-01-01T10:00:00Z")).await;
    create(&app, &org.token, ev("now", "2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z")).await;
    let mut sales = ev("sales", "2031-03-10T09:00:00Z", "2031-03-10T10:00:00Z");
    sales["category"] = json!("Sales");
    sales["location"] = json!("Room 1");
    sales["conferenceLink"] = json!("https://meet.example/s");
    sales["description"] = json!("Pipeline review");
    create(&app, &org.token, sales).await;
    let mut meeting = ev("meeting", "2031-03-11T09:00:00Z", "2031-03-11T10:00:00Z");
    meeting["isMeeting"] = json!(true);
    meeting["userIds"] = json!([guest]);
    meeting["permissions"] = json!({ "users": [] });
    let private = create(&app, &org.token, meeting).await;
    let mut stream = ev("stream", "2031-03-12T23:30:00-04:00", "2031-03-12T23:45:00-04:00");
    stream["type"] = json!(3);
    stream["timeZone"] = json!("America/New_York");
    create(&app, &org.token, stream).await;
    create(&app, &other.token, ev("foreign", "2031-03-10T09:00:00Z", "2031-03-10T10:00:00Z")).await;

    let all = list(&app, &org.token, "").await;
    assert_eq!(titles(&all), ["sales", "meeting", "stream"]);
    assert_eq!(all["meta"], json!({ "perPage": 10, "totalPages": 1, "totalResults": 3, "curPage": 1, "nextPage": null }));
    let page2 = list(&app, &org.token, "per_page=2&cur_page=2").await;
    assert_eq!((titles(&page2), page2["meta"]["totalPages"].as_i64()), (vec!["stream".to_string()], Some(2)));
    assert_eq!(titles(&list(&app, &org.token, "include_happening_now=true").await), ["now", "sales", "meeting", "stream"]);
    assert_eq!(titles(&list(&app, &org.token, "onlyPast=TRUE").await), ["past"]);
    assert_eq!(titles(&list(&app, &org.token, "onlyMeeting=true").await), ["meeting"]);
    assert_eq!(titles(&list(&app, &org.token, "filter=LIVESTREAM").await), ["stream"]);
    assert_eq!(titles(&list(&app, &org.token, "filter=2&category=sales").await), ["sales"]);
    assert_eq!(titles(&list(&app, &org.token, "time=2019-01-01T00:00:00Z&per_page=1").await), ["now"]);
    // Dates are whole days in each event's zone, and take priority over `time`.
    assert_eq!(titles(&list(&app, &org.token, "fromDate=2031-03-11&toDate=2031-03-12&onlyPast=true").await), ["meeting", "stream"]);
    assert_eq!(titles(&list(&app, &org.token, "toDate=2031-03-10").await), ["past", "sales"]);
    assert_eq!(titles(&list(&app, &org.token, "externalEvents=true").await).len(), 3);
    for (q, field) in [
        ("per_page=1001", "per_page"),
        ("onlyPast=maybe", "onlyPast"),
        // The flags are booleans (spec: `bool`): not 1 or 0, not empty.
        ("onlyPast=1", "onlyPast"),
        ("onlyMeeting=0", "onlyMeeting"),
        ("include_happening_now=", "include_happening_now"),
        ("filter=POST", "filter"),
        ("fromDate=2031-13-01", "fromDate"),
        ("toDate=x", "toDate"),
        ("time=yesterday", "time"),
        ("externalEvents=2", "externalEvents"),
        ("onlyGoing=x", "onlyGoing"),
    ] {
        let (status, e) = send(app.wd(Method::GET, &format!("/api/events?{q}"), &org.token)).await;
        bad(status, &e, field);
    }

    // Visibility: the invitee sees the users-only meeting, another member does not, another org 404s.
    assert_eq!(titles(&list(&app, &guest_token, "").await), ["sales", "meeting", "stream"]);
    assert_eq!(titles(&list(&app, &bystander, "").await), ["sales", "stream"]);
    let pid = private["id"].as_str().unwrap();
    let (status, _) = send(app.wd(Method::POST, &format!("/api/events/{pid}/rsvp"), &bystander).json(&json!({ "rsvp": "going" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/events/{pid}"), &other.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // RSVP: per reader, the latest answer wins; going, myRsvp, rsvpUsers, onlyGoing.
    let rsvp =
        |token: &str, answer: Value| app.wd(Method::POST, &format!("/api/events/{pid}/rsvp"), token).json(&json!({ "rsvp": answer }));
    let (status, e) = send(rsvp(&guest_token, json!("maybe"))).await;
    assert_eq!((status, e["myRsvp"].as_str(), e["going"].as_i64()), (StatusCode::OK, Some("maybe"), Some(0)), "{e}");
    let (_, e) = send(rsvp(&guest_token, json!("going"))).await;
    assert_eq!((e["myRsvp"].as_str(), e["going"].as_i64()), (Some("going"), Some(1)), "{e}");
    let (_, e) = send(rsvp(&org.token, json!("Declined"))).await;
    assert_eq!((e["myRsvp"].as_str(), e["going"].as_i64()), (Some("declined"), Some(1)), "{e}");
    let (status, err) = send(rsvp(&guest_token, json!("perhaps"))).await;
    bad(status, &err, "rsvp");
    assert_eq!(titles(&list(&app, &guest_token, "onlyGoing=true").await), ["meeting"]);
    assert!(titles(&list(&app, &org.token, "onlyGoing=true").await).is_empty());
    let with = list(&app, &guest_token, "onlyMeeting=true&include_recent_rsvps=true").await;
    let users = with["events"][0]["rsvpUsers"].as_array().unwrap();
    assert_eq!(users.len(), 2, "{with}");
    assert_eq!((users[0]["id"].as_str(), users[0]["rsvp"].as_str()), (Some(org.admin_id.as_str()), Some("declined")));
    assert_eq!((users[1]["id"].as_str(), users[1]["rsvp"].as_str()), (Some(guest.as_str()), Some("going")));
    assert!(users[1]["invited"].is_string() && users[0]["invited"].is_null());
    assert!(list(&app, &guest_token, "onlyMeeting=true").await["events"][0]["rsvpUsers"].as_array().unwrap().is_empty());
    assert_eq!(log_types(&app, pid).await, ["EventScheduled", "EventRsvpGiven", "EventRsvpGiven", "EventRsvpGiven"]);

    // The feed: exactly the visible events, with the token in the query.
    let feed = |token: &str| app.req(Method::GET, &format!("/api/events.ics?token={token}"));
    let r = send_raw(feed(&bystander)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    let ics = r.text().await.unwrap();
    let summaries: Vec<&str> = ics.lines().filter_map(|l| l.strip_prefix("SUMMARY:")).collect();
    assert_eq!(summaries, ["now", "past", "sales", "stream"], "{ics}");
    for line in ["LOCATION:Room 1", "URL:https://meet.example/s", "DESCRIPTION:Pipeline review"] {
        assert!(ics.lines().any(|l| l == line), "{line}: {ics}");
    }
    assert!(ics.starts_with("BEGIN:VCALENDAR") && ics.trim_end().ends_with("END:VCALENDAR"));
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 4);
    assert!(ics.contains("DTSTART:20310310T090000Z"), "{ics}");
    let guest_ics = send_raw(app.wd(Method::GET, "/api/events.ics", &guest_token)).await.text().await.unwrap();
    assert!(guest_ics.contains(&format!("UID:{pid}")), "{guest_ics}");
    assert_eq!(send_raw(app.req(Method::GET, "/api/events.ics?token=wrong")).await.status(), StatusCode::UNAUTHORIZED);

    // The org admin sees every event of the org, even one only its author may see.
    let mut secret = ev("secret", "2031-03-15T09:00:00Z", "2031-03-15T10:00:00Z");
    secret["permissions"] = json!({ "onlyMe": true });
    create(&app, &guest_token, secret).await;
    assert!(titles(&list(&app, &org.token, "").await).contains(&"secret".to_string()));
    assert!(titles(&list(&app, &guest_token, "").await).contains(&"secret".to_string()));
    assert!(!titles(&list(&app, &bystander, "").await).contains(&"secret".to_string()));
}

fn local_times(page: &Value, tz: Tz) -> Vec<NaiveTime> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["startDateTime"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap().with_timezone(&tz).time())
        .collect()
}

#[tokio::test]
async fn series_keep_their_wall_clock_and_edit_one_following_or_all() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Series").await;
    let weekly = |title: &str, start: &str, zone: &str, ends: &str, freq: Value| {
        json!({ "title": title, "startDateTime": start, "duration": 60, "timeZone": zone,
                "repeat": { "config": { "type": "frequency", "frequency": freq, "ends": { "config": { "type": "on", "date": ends } } } } })
    };
    // Three zones, each across its DST change: 5 weekly occurrences at 09:00 local.
    for (zone, start, ends, window) in [
        ("America/New_York", "2031-03-03T09:00:00-05:00", "2031-03-31", "fromDate=2031-03-01&toDate=2031-04-30"),
        ("Europe/Berlin", "2031-10-13T09:00:00+02:00", "2031-11-10", "fromDate=2031-10-01&toDate=2031-11-30"),
        ("Australia/Sydney", "2031-03-24T09:00:00+11:00", "2031-04-21", "fromDate=2031-03-01&toDate=2031-04-30"),
    ] {
        let first = create(&app, &org.token, weekly(zone, start, zone, ends, json!(604800))).await;
        assert_eq!(first["repeatId"], first["id"]);
        assert_eq!(first["repeatConfig"]["config"]["frequency"], 604800);
        let page = list(&app, &org.token, &format!("{window}&filter=EVENT&per_page=100")).await;
        let mine: Vec<&Value> = page["events"].as_array().unwrap().iter().filter(|e| e["title"] == zone).collect();
        assert_eq!(mine.len(), 5, "{zone}: {page}");
        let tz: Tz = zone.parse().unwrap();
        let only = json!({ "events": mine });
        assert!(local_times(&only, tz).iter().all(|t| *t == NaiveTime::from_hms_opt(9, 0, 0).unwrap()), "{zone}: {only}");
        let offsets: std::collections::BTreeSet<i64> = mine
            .iter()
            .map(|e| {
                let s = e["startDateTime"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
                s.timestamp() % 86400
            })
            .collect();
        assert_eq!(offsets.len(), 2, "{zone}: the UTC time moves with DST");
    }

    // Monthly on the 31st skips the months without one; the 366 cap.
    create(&app, &org.token, weekly("monthly", "2033-01-31T12:00:00Z", "UTC", "2033-12-31", json!("monthly"))).await;
    let months = list(&app, &org.token, "fromDate=2033-01-01&toDate=2033-12-31&per_page=100").await;
    let days: Vec<&str> = months["events"].as_array().unwrap().iter().map(|e| &e["startDateTime"].as_str().unwrap()[..10]).collect();
    assert_eq!(days, ["2033-01-31", "2033-03-31", "2033-05-31", "2033-07-31", "2033-08-31", "2033-10-31", "2033-12-31"]);
    let (status, e) = send(app.wd(Method::POST, "/api/events", &org.token).json(&weekly(
        "cap",
        "2034-01-01T08:00:00Z",
        "UTC",
        "2035-01-02",
        json!(86400),
    )))
    .await;
    bad(status, &e, "repeat.config.ends.config.date");
    let full = create(&app, &org.token, weekly("cap", "2034-01-01T08:00:00Z", "UTC", "2035-01-01", json!(86400))).await;
    assert_eq!(list(&app, &org.token, "fromDate=2034-01-01&toDate=2035-12-31&per_page=1").await["meta"]["totalResults"], 366);
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/events/{}?repeat=all", full["id"].as_str().unwrap()), &org.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(list(&app, &org.token, "fromDate=2034-01-01&toDate=2035-12-31").await["meta"]["totalResults"], 0);

    // A daily series of 5 in Berlin: PATCH one, following, all; DELETE one, following.
    create(&app, &org.token, weekly("daily", "2036-03-27T09:00:00+01:00", "Europe/Berlin", "2036-03-31", json!(86400))).await;
    let window = "fromDate=2036-03-01&toDate=2036-04-30";
    let series = list(&app, &org.token, window).await;
    let ids: Vec<String> = series["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 5);
    let patch = |id: &str, scope: &str, body: Value| app.wd(Method::PATCH, &format!("/api/events/{id}{scope}"), &org.token).json(&body);
    let (status, _) = send(patch(&ids[1], "", json!({ "title": "one" }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(patch(&ids[3], "?repeat=following", json!({ "title": "later" }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(titles(&list(&app, &org.token, window).await), ["daily", "one", "daily", "later", "later"]);
    // `all` moves every occurrence to 10:00 local (across the DST change on 30 March).
    let (status, moved) =
        send(patch(&ids[2], "?repeat=all", json!({ "description": "all", "startDateTime": "2036-03-29T10:00:00+01:00" }))).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let after = list(&app, &org.token, window).await;
    assert_eq!(titles(&after), ["daily", "one", "daily", "later", "later"], "titles are per occurrence");
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    assert!(local_times(&after, berlin).iter().all(|t| *t == NaiveTime::from_hms_opt(10, 0, 0).unwrap()), "{after}");
    assert!(after["events"].as_array().unwrap().iter().all(|e| e["description"] == "all"
        && e["endDateTime"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap()
            - e["startDateTime"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap()
            == Duration::hours(1)));
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/events/{}", ids[0]), &org.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(app.wd(Method::DELETE, &format!("/api/events/{}?repeat=following", ids[3]), &org.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(titles(&list(&app, &org.token, window).await), ["one", "daily"]);
    assert_eq!(log_types(&app, &ids[3]).await, ["EventScheduled", "EventChanged", "EventChanged", "EventCancelled"]);
}
