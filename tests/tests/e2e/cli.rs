//! The `roster` command line, run in-process: every subcommand's help, `token`, `rebuild`, and
//! `dev` starting its own Postgres and nats-server and stopping them again.

use std::time::Duration;

use clap::Parser;
use reqwest::{Method, StatusCode};
use roster::cli::{execute, Cli};
use roster_tests::{send, TestApp};
use serde_json::{json, Value};

async fn run(args: &[&str]) -> Result<String, String> {
    let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    execute(cli, std::future::pending(), &mut out).await.map_err(|e| e.to_string())?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn every_subcommand_has_help() {
    for (sub, mentions) in [
        ("dev", &["--data-dir", "--pg-port", "--nats-port", "--bind", "DATABASE_URL"][..]),
        ("serve", &["--role", "--database-url", "--nats-url", "--nats-replicas", "ROSTER_NATS_REPLICAS", "--consistency-timeout-ms"][..]),
        ("rebuild", &["<PROJECTION>", "all", "--quiet"][..]),
        ("token", &["--super-admin", "--user", "--expires-in-hours"][..]),
        ("verify", &["--org", "--quiet", "DATABASE_URL"][..]),
    ] {
        let err = Cli::try_parse_from(["roster", sub, "--help"]).err().expect("--help exits");
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
        let help = err.to_string();
        for m in mentions {
            assert!(help.contains(m), "roster {sub} --help lacks {m}:\n{help}");
        }
    }
    let err = Cli::try_parse_from(["roster", "--help"]).err().unwrap();
    for sub in ["dev", "serve", "rebuild", "token"] {
        assert!(err.to_string().contains(sub));
    }
    let err = Cli::try_parse_from(["roster", "token", "--database-url", "x"]).err().unwrap();
    assert!(err.to_string().contains("--super-admin"), "token needs a who: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_mints_working_tokens_and_rebuild_runs() {
    let app = TestApp::spawn().await;
    let db = app.config.database_url.clone();
    let super_token = run(&["roster", "token", "--super-admin", "--database-url", &db]).await.unwrap().trim().to_string();
    assert!(super_token.starts_with("rst_"), "{super_token}");
    let body = json!({"name": "Cli Org", "admin": {"firstName": "C", "lastName": "L", "email": "c@cli.io"}});
    let (status, org) = send(app.wd(Method::POST, "/api/organization", &super_token).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{org}");

    let (_, users) = send(app.wd(Method::GET, "/api/users", org["accessToken"].as_str().unwrap())).await;
    let admin = users["users"][0]["id"].as_str().unwrap().to_string();
    let user_token = run(&["roster", "token", "--user", &admin, "--expires-in-hours", "1", "--database-url", &db]).await.unwrap();
    let (status, _) = send(app.wd(Method::GET, "/api/users", user_token.trim())).await;
    assert_eq!(status, StatusCode::OK);
    let err = run(&["roster", "token", "--user", &uuid::Uuid::now_v7().to_string(), "--database-url", &db]).await.unwrap_err();
    assert!(err.contains("user not found"), "{err}");

    run(&["roster", "rebuild", "all", "--quiet", "--database-url", &db]).await.unwrap();
    let (status, users) = send(app.wd(Method::GET, "/api/users", user_token.trim())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users["meta"]["totalResults"], 1);
    let err = run(&["roster", "rebuild", "nope", "--database-url", &db]).await.unwrap_err();
    assert!(err.contains("unknown projection 'nope'") && err.contains("directory"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_starts_its_own_postgres_and_nats_and_stops_them() {
    let dir = roster_tests::stack().dir.join(format!("dev-{}", uuid::Uuid::new_v4().simple()));
    let (pg, nats) = (devstack::free_port(), devstack::free_port());
    let args: Vec<String> = vec![
        "roster".into(),
        "dev".into(),
        "--data-dir".into(),
        dir.display().to_string(),
        "--pg-port".into(),
        pg.to_string(),
        "--nats-port".into(),
        nats.to_string(),
        "--bind".into(),
        "127.0.0.1:0".into(),
    ];
    // Run as a user would: no DATABASE_URL/NATS_URL in the environment (clap reads them).
    let cli = Cli::try_parse_from(&args).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut out = Vec::new();
    let dev = execute(
        cli,
        async {
            let _ = stop_rx.await;
        },
        &mut out,
    );
    let user = async {
        let endpoints = dir.join("endpoints.json");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !endpoints.exists() {
            assert!(tokio::time::Instant::now() < deadline, "roster dev never wrote endpoints.json");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let e: Value = serde_json::from_slice(&std::fs::read(&endpoints).unwrap()).unwrap();
        assert_eq!(e["database_url"], format!("postgres://postgres@127.0.0.1:{pg}/roster"));
        assert_eq!(e["nats_url"], format!("nats://127.0.0.1:{nats}"));
        let token = e["bootstrap_token"].as_str().expect("a generated token on first start");
        let api = e["api_url"].as_str().unwrap();
        let client = reqwest::Client::new();
        let (status, org) = send(
            client
                .post(format!("{api}/api/organization"))
                .header("X-API-KEY", token)
                .json(&json!({"name": "Devorg", "admin": {"firstName": "D", "lastName": "V", "email": "d@dev.io"}})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{org}");
        stop_tx.send(()).unwrap();
        e
    };
    let (result, e) = tokio::join!(dev, user);
    result.unwrap();
    let printed: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(printed, e, "what it printed is what it wrote");
    // Its children are gone.
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", pg)).await.is_err(), "postgres still listening");
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", nats)).await.is_err(), "nats-server still listening");
}
