//! Media (WorkDrive E75 and its upload). The upload signature is a random one-time secret shown
//! once in the reservation's answer; the log keeps only its SHA-256.

use domain::media::{check_reference, Media, MediaAggregate, MediaCommand};
use domain::{DomainError, OrgId};
use esrs::Aggregate;
use uuid::Uuid;

use crate::results::*;
use crate::store::{PendingStream, Plan};
use crate::{secrets, CommandContext, CommandError, Committed, Store};

#[derive(Debug, Clone)]
pub struct Reserve {
    pub name: String,
    pub mime: String,
    pub module_code: i64,
}

/// SHA-256 (hex) of an upload signature.
pub fn signature_hash(signature: &str) -> String {
    hex::encode(secrets::token_hash(signature))
}

/// E75: reserves a file id. Returns the committed reservation and, unless this is a replay, the
/// one-time upload signature (shown once).
pub async fn reserve(
    store: &Store,
    ctx: &CommandContext,
    org: OrgId,
    input: Reserve,
) -> Result<(Committed<FileRef>, Option<String>), CommandError> {
    let id = Uuid::now_v7();
    let signature = secrets::new_token();
    let hash = signature_hash(&signature);
    let committed = store
        .execute(ctx, || async {
            let cmd = MediaCommand::Reserve {
                id,
                org_id: org,
                name: input.name.clone(),
                mime: input.mime.clone(),
                module_code: input.module_code,
                reserved_by: ctx.actor,
                upload_token_sha256: hash.clone(),
                now: ctx.now,
            };
            let events = MediaAggregate::handle_command(&None, cmd)?;
            Ok(Plan { streams: vec![PendingStream::new(id, Some(org.0), 0, &events)?], ..Plan::new(FileRef { file_id: id }) })
        })
        .await?;
    let signature = (!committed.is_replay).then_some(signature);
    Ok((committed, signature))
}

/// The reservation of `id`, for an upload to check before its bytes are stored.
pub async fn load(store: &Store, id: Uuid) -> Result<Option<Media>, CommandError> {
    Ok(store.load::<MediaAggregate>(id).await?.0)
}

/// What an upload stored.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

/// Records an upload whose bytes are already in the object store under `uploaded.key`.
pub async fn record_upload(
    store: &Store,
    ctx: &CommandContext,
    id: Uuid,
    signature: &str,
    content_type: &str,
    uploaded: Uploaded,
) -> Result<Committed<FileRef>, CommandError> {
    let hash = signature_hash(signature);
    store
        .execute(ctx, || async {
            let (state, version) = store.load::<MediaAggregate>(id).await?;
            let org = state.as_ref().map(|m| m.org_id).ok_or(DomainError::NotFound("file"))?;
            let cmd = MediaCommand::Upload {
                token_sha256: hash.clone(),
                content_type: content_type.to_string(),
                now: ctx.now,
                key: uploaded.key.clone(),
                size: uploaded.size,
                sha256: uploaded.sha256.clone(),
            };
            let events = MediaAggregate::handle_command(&state, cmd)?;
            Ok(Plan { streams: vec![PendingStream::new(id, Some(org.0), version, &events)?], ..Plan::new(FileRef { file_id: id }) })
        })
        .await
}

/// A `fileId`-like reference names an uploaded file of `org`; otherwise a 400 naming `field`.
pub async fn check_file(store: &Store, org: OrgId, id: Uuid, field: &str) -> Result<(), CommandError> {
    let (state, _) = store.load::<MediaAggregate>(id).await?;
    Ok(check_reference(&state, org, field)?)
}
