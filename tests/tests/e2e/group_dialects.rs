//! One directory behind every group API: a group made through PortSIP, Sunbird or Publisher is
//! read, renamed, given a member and deleted through each of the other two, each dialect showing
//! its own id form (PortSIP base64 of the number, Sunbird the UUID, Publisher the number).

use std::collections::HashMap;

use base64::Engine;
use reqwest::{Method, StatusCode};
use roster_tests::{send, Org, TestApp};
use serde_json::json;

use crate::publisher::number_of;
use crate::sunbird::{env, sb};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum D {
    PortSip,
    Sunbird,
    Publisher,
}

const ALL: [D; 3] = [D::PortSip, D::Sunbird, D::Publisher];

/// One group's ids in every form.
#[derive(Debug, Clone)]
struct Ids {
    uuid: String,
    number: i64,
}

impl Ids {
    fn portsip(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.number.to_string())
    }
}

struct World {
    app: TestApp,
    org: Org,
    /// user uuid → number
    numbers: HashMap<String, i64>,
    /// A member present in every group, used to find groups through Sunbird's list.
    anchor: String,
}

impl World {
    async fn create(&self, d: D, name: &str) -> Ids {
        let (app, t) = (&self.app, &self.org.token);
        let anchor_n = self.numbers[&self.anchor];
        match d {
            D::PortSip => {
                let pid = app.create_group(&self.org, name).await;
                let (status, _) = send(app.ps(Method::POST, &format!("/api/groups/{pid}/members/{anchor_n}"), t)).await;
                assert_eq!(status, StatusCode::OK);
                let bytes = base64::engine::general_purpose::STANDARD.decode(&pid).unwrap();
                let number: i64 = String::from_utf8(bytes).unwrap().parse().unwrap();
                Ids { uuid: self.uuid_by_name(name).await, number }
            }
            D::Sunbird => {
                let uuid = crate::sunbird::create(app, t, json!({"name": name, "members": [{"userId": self.anchor}]})).await;
                let (_, v) = send(app.ps(Method::GET, "/api/2/groups?fields=id,name&limit=1000", t)).await;
                let number = v["groups"].as_array().unwrap().iter().find(|g| g["name"] == name).unwrap()["id"].as_i64().unwrap();
                Ids { uuid, number }
            }
            D::Publisher => {
                let (status, v) =
                    send(app.ps(Method::POST, "/api/2/groups", t).json(&json!({"group": {"name": name, "users": [anchor_n]}}))).await;
                assert_eq!(status, StatusCode::OK, "{v}");
                Ids { uuid: self.uuid_by_name(name).await, number: v["group"]["id"].as_i64().unwrap() }
            }
        }
    }

    async fn uuid_by_name(&self, name: &str) -> String {
        let (_, v) = send(
            sb(&self.app, Method::POST, "/api/group/v1/list", &self.org.token).json(&env(json!({"filters": {"userId": self.anchor}}))),
        )
        .await;
        let g = v["result"]["group"].as_array().unwrap().iter().find(|g| g["name"] == name).unwrap_or_else(|| panic!("{name} not in {v}"));
        let id = g["id"].as_str().unwrap().to_string();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "Sunbird shows the UUID");
        id
    }

    /// (name, sorted member numbers) as dialect `d` shows them; `None` when `d` says not found.
    async fn read(&self, d: D, ids: &Ids) -> Option<(String, Vec<i64>)> {
        let (app, t) = (&self.app, &self.org.token);
        let mut out = match d {
            D::PortSip => {
                let (status, g) = send(app.ps(Method::GET, &format!("/api/groups/{}", ids.portsip()), t)).await;
                if status == StatusCode::NOT_FOUND {
                    return None;
                }
                assert_eq!(g["id"], ids.portsip().as_str());
                let (_, m) = send(app.ps(Method::GET, &format!("/api/groups/{}/members", ids.portsip()), t)).await;
                let members: Vec<i64> = m["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["extension_number"].as_str().unwrap().parse::<i64>().unwrap())
                    .collect();
                (g["name"].as_str().unwrap().to_string(), members)
            }
            D::Sunbird => {
                let (status, v) = send(sb(app, Method::GET, &format!("/api/group/v1/read/{}?fields=members", ids.uuid), t)).await;
                if status == StatusCode::BAD_REQUEST && v["params"]["err"] == "GS_RED07" {
                    return None;
                }
                let g = &v["result"];
                assert_eq!(g["id"], ids.uuid.as_str());
                let members: Vec<i64> = g["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["status"] == "active")
                    .map(|m| self.numbers[m["userId"].as_str().unwrap()])
                    .collect();
                (g["name"].as_str().unwrap().to_string(), members)
            }
            D::Publisher => {
                let (status, v) = send(app.ps(Method::GET, &format!("/api/2/groups/{}", ids.number), t)).await;
                if status == StatusCode::NOT_FOUND {
                    return None;
                }
                assert_eq!(v["group"]["id"], ids.number);
                let members: Vec<i64> = v["group"]["users"].as_array().unwrap().iter().map(|n| n.as_i64().unwrap()).collect();
                (v["group"]["name"].as_str().unwrap().to_string(), members)
            }
        };
        out.1.sort_unstable();
        Some(out)
    }

    async fn rename(&self, d: D, ids: &Ids, name: &str) {
        let (app, t) = (&self.app, &self.org.token);
        let status = match d {
            D::PortSip => send(app.ps(Method::POST, &format!("/api/groups/{}", ids.portsip()), t).json(&json!({"name": name}))).await.0,
            D::Sunbird => {
                send(sb(app, Method::PATCH, "/api/group/v1/update", t).json(&env(json!({"groupId": ids.uuid, "name": name})))).await.0
            }
            D::Publisher => {
                let (_, members) = self.read(D::Publisher, ids).await.unwrap();
                send(
                    app.ps(Method::PUT, &format!("/api/2/groups/{}", ids.number), t)
                        .json(&json!({"group": {"name": name, "users": members}})),
                )
                .await
                .0
            }
        };
        assert_eq!(status, StatusCode::OK, "rename through {d:?}");
    }

    async fn add(&self, d: D, ids: &Ids, user: &str) {
        let (app, t) = (&self.app, &self.org.token);
        let n = self.numbers[user];
        let (status, v) = match d {
            D::PortSip => send(app.ps(Method::POST, &format!("/api/groups/{}/members/{n}", ids.portsip()), t)).await,
            D::Sunbird => {
                send(
                    sb(app, Method::PATCH, "/api/group/v1/update", t)
                        .json(&env(json!({"groupId": ids.uuid, "members": {"add": [{"userId": user}]}}))),
                )
                .await
            }
            D::Publisher => {
                send(
                    app.ps(Method::PUT, &format!("/api/2/groups/{}/users", ids.number), t)
                        .json(&json!({"group": {"users": [n.to_string()]}})),
                )
                .await
            }
        };
        assert_eq!(status, StatusCode::OK, "add through {d:?}: {v}");
    }

    async fn delete(&self, d: D, ids: &Ids) {
        let (app, t) = (&self.app, &self.org.token);
        let status = match d {
            D::PortSip => send(app.ps(Method::POST, &format!("/api/groups/{}/destroy", ids.portsip()), t)).await.0,
            D::Sunbird => send(sb(app, Method::POST, "/api/group/v1/delete", t).json(&env(json!({"groupId": ids.uuid})))).await.0,
            D::Publisher => send(app.ps(Method::DELETE, &format!("/api/2/groups/{}", ids.number), t)).await.0,
        };
        assert!(status.is_success(), "delete through {d:?}: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_one_model_across_portsip_sunbird_and_publisher() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Matrix").await;
    let u1 = app.add_user(&org, "u1@matrix.io").await["id"].as_str().unwrap().to_string();
    let u2 = app.add_user(&org, "u2@matrix.io").await["id"].as_str().unwrap().to_string();
    let mut numbers = HashMap::new();
    for u in [&org.admin_id, &u1, &u2] {
        numbers.insert(u.clone(), number_of(&app, u).await);
    }
    let w = World { app, org, numbers, anchor: u1.clone() };

    for creator in ALL {
        for other in ALL.into_iter().filter(|d| *d != creator) {
            let name = format!("{creator:?} via {other:?}");
            let ids = w.create(creator, &name).await;
            // Every dialect sees the same group with the same members.
            let seen = w.read(creator, &ids).await.expect("the creator sees it");
            assert!(seen.1.contains(&w.numbers[&u1]), "{seen:?}");
            for d in ALL {
                assert_eq!(w.read(d, &ids).await.as_ref(), Some(&seen), "{name}: read through {d:?}");
            }
            // Renamed and given a member through another dialect: everyone sees both.
            let renamed = format!("{name} (renamed)");
            w.rename(other, &ids, &renamed).await;
            w.add(other, &ids, &u2).await;
            let mut members = seen.1.clone();
            members.push(w.numbers[&u2]);
            members.sort_unstable();
            for d in ALL {
                assert_eq!(w.read(d, &ids).await, Some((renamed.clone(), members.clone())), "{name}: after the change, through {d:?}");
            }
            // Deleted through that other dialect: gone everywhere.
            w.delete(other, &ids).await;
            for d in ALL {
                assert_eq!(w.read(d, &ids).await, None, "{name}: deleted, through {d:?}");
            }
        }
    }

    // Tenant isolation: another organization's group ids are each dialect's not-found.
    let outsider = w.app.create_org("Outsider").await;
    let uuid = crate::sunbird::create(&w.app, &outsider.token, json!({"name": "Theirs"})).await;
    let (_, v) = send(w.app.ps(Method::GET, "/api/2/groups", &outsider.token)).await;
    let theirs = Ids { uuid, number: v["groups"][0]["id"].as_i64().unwrap() };
    for d in ALL {
        assert_eq!(w.read(d, &theirs).await, None, "another tenant's group through {d:?}");
    }
    let (status, _) = send(w.app.ps(Method::POST, &format!("/api/groups/{}/destroy", theirs.portsip()), &w.org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) =
        send(sb(&w.app, Method::POST, "/api/group/v1/delete", &w.org.token).json(&env(json!({"groupId": theirs.uuid})))).await;
    assert_eq!((status, v["params"]["err"].as_str()), (StatusCode::BAD_REQUEST, Some("GS_DLT07")));
    let (status, _) =
        send(w.app.ps(Method::PUT, &format!("/api/2/groups/{}/users", theirs.number), &w.org.token).json(&json!({"group": {"users": []}})))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Still there for its owner.
    let (status, _) = send(w.app.ps(Method::GET, &format!("/api/2/groups/{}", theirs.number), &outsider.token)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexport_short_names_are_unique_system_wide() {
    let app = TestApp::spawn().await;
    let a = app.create_org("ShortA").await;
    let b = app.create_org("ShortB").await;
    let store = commands::Store::new(app.pool.clone());
    let ctx = commands::CommandContext::system("test", chrono::Utc::now());
    let org = |o: &Org| domain::OrgId(o.id.parse().unwrap());
    let input =
        |short: &str| commands::handlers::group::CreateGroup { name: "G".into(), short_name: Some(short.into()), ..Default::default() };
    let first = commands::handlers::group::create_group(&store, &ctx, org(&a), input("ENG")).await.unwrap();
    // Another organization, another case: still taken.
    let err = commands::handlers::group::create_group(&store, &ctx, org(&b), input("eng")).await.unwrap_err();
    assert!(matches!(err, commands::CommandError::Rejected(domain::DomainError::Taken { .. })), "{err:?}");
    // Renaming the first frees its old short name, and deleting it frees the new one.
    let id = first.result.group_id;
    let patch = domain::group::GroupPatch { short_name: domain::patch::Patch::Set("ops".into()), ..Default::default() };
    commands::handlers::group::update_group(&store, &ctx, org(&a), id, patch).await.unwrap();
    commands::handlers::group::create_group(&store, &ctx, org(&b), input("eng")).await.unwrap();
    assert!(commands::handlers::group::create_group(&store, &ctx, org(&b), input("OPS")).await.is_err());
    commands::handlers::group::delete_group(&store, &ctx, org(&a), id).await.unwrap();
    commands::handlers::group::create_group(&store, &ctx, org(&b), input("OPS")).await.unwrap();
}
