//! WorkDrive media (E75): reserve a file id (`GET /api/media`; also `POST` without a multipart
//! body), upload its bytes the way a presigned S3 POST would (`POST /api/media`, multipart,
//! authorized by the one-time signature in the reservation's `fields`), and download them
//! (`GET /api/media/{id}`, org-scoped). Bytes go through `object_store`: the local filesystem by default, an
//! S3-compatible bucket with the `s3` cargo feature and `ROSTER_MEDIA_S3_*`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::multipart::Field;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use commands::handlers::media as media_cmd;
use domain::media::{MediaAggregate, MAX_UPLOAD_BYTES};
use futures::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use projections::media::FileRow;
use projections::queries;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Caller, ErrorBody, Query, UserSummary, WorkDrive, Write};
use crate::kernel::dialect;
use crate::kernel::error::ApiError;
use crate::kernel::write::{Ctx, SecretBearing, WriteMeta};
use crate::AppState;

type Error = dialect::Error<WorkDrive>;

/// Request body limit of the upload route: the file plus room for the form fields.
pub const UPLOAD_BODY_LIMIT: usize = MAX_UPLOAD_BYTES as usize + 64 * 1024;
// The kernel hashes bodies up to its limit for idempotency; an upload must fit in it.
const _: () = assert!(UPLOAD_BODY_LIMIT <= crate::kernel::limits::MAX_REQUEST_BODY);
/// Parts of one upload in flight to the store at once.
const UPLOAD_CONCURRENCY: usize = 4;
/// What `X-Amz-Algorithm` says: the signature is a one-time random secret, not AWS SigV4.
pub const SIGNATURE_ALGORITHM: &str = "ROSTER-ONE-TIME-TOKEN";

// ----- configuration and the store ----------------------------------------------------------------

/// Where media bytes live.
#[derive(Clone, PartialEq)]
pub enum MediaBackend {
    /// A directory of the local filesystem (created when missing).
    Local(PathBuf),
    /// An S3-compatible bucket (needs the `s3` cargo feature).
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: Option<String>,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
    },
}

/// Never shows the S3 secret.
impl std::fmt::Debug for MediaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaBackend::Local(dir) => f.debug_tuple("Local").field(dir).finish(),
            MediaBackend::S3 { bucket, endpoint, region, access_key_id, .. } => f
                .debug_struct("S3")
                .field("bucket", bucket)
                .field("endpoint", endpoint)
                .field("region", region)
                .field("access_key_id", access_key_id)
                .finish_non_exhaustive(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MediaConfig {
    pub backend: MediaBackend,
    /// Base of the URLs Roster hands out (`https://roster.example.com`); else taken from `Host`
    /// where there is a request, and relative (`/api/media/{id}`) in other answers.
    pub public_url: Option<String>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig { backend: MediaBackend::Local(PathBuf::from(".roster/media")), public_url: None }
    }
}

/// The media store every handler shares.
pub struct Media {
    pub store: Arc<dyn ObjectStore>,
    /// Shown as `bucket` in `File` and the upload fields.
    pub bucket: String,
    pub public_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaSetupError {
    #[error("media directory {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("media store: {0}")]
    Store(#[from] object_store::Error),
    #[error("S3 media storage needs Roster built with the `s3` feature (cargo build --features api/s3)")]
    NoS3,
}

impl Media {
    pub fn open(cfg: &MediaConfig) -> Result<Media, MediaSetupError> {
        let public_url = cfg.public_url.as_ref().map(|u| u.trim_end_matches('/').to_string());
        match &cfg.backend {
            MediaBackend::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| MediaSetupError::Dir(dir.clone(), e))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
                Ok(Media { store: Arc::new(store), bucket: "local".into(), public_url })
            }
            #[cfg(feature = "s3")]
            MediaBackend::S3 { bucket, endpoint, region, access_key_id, secret_access_key } => {
                let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(e) = endpoint {
                    b = b.with_endpoint(e).with_allow_http(e.starts_with("http://")).with_virtual_hosted_style_request(false);
                }
                if let Some(r) = region {
                    b = b.with_region(r);
                }
                if let Some(k) = access_key_id {
                    b = b.with_access_key_id(k);
                }
                if let Some(s) = secret_access_key {
                    b = b.with_secret_access_key(s);
                }
                Ok(Media { store: Arc::new(b.build()?), bucket: bucket.clone(), public_url })
            }
            #[cfg(not(feature = "s3"))]
            MediaBackend::S3 { .. } => Err(MediaSetupError::NoS3),
        }
    }

    /// The base of absolute URLs for a request: the configured public URL, else `http://<Host>`.
    fn base(&self, headers: &HeaderMap) -> String {
        if let Some(u) = &self.public_url {
            return u.clone();
        }
        match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
            Some(host) => format!("http://{host}"),
            None => String::new(),
        }
    }
}

// ----- shapes -------------------------------------------------------------------------------------

/// The spec's `File` (media object).
#[derive(Debug, Serialize, ToSchema, Clone)]
#[serde(rename_all = "camelCase")]
pub struct File {
    pub id: Uuid,
    pub mime: String,
    /// The object's key in the store.
    pub path: String,
    pub name: String,
    /// Roster does not transcode: always `{}`.
    #[schema(value_type = Object)]
    pub processing: serde_json::Value,
    /// `{sha256, moduleCode}`.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub size: i64,
    /// Roster's download route for the bytes (needs the caller's token).
    pub url: String,
    pub cdn: Option<String>,
    pub bucket: String,
    pub mp4_urls: Vec<String>,
    pub hls_url: Option<String>,
    pub dash_url: Option<String>,
    pub thumbnail: Option<String>,
    pub is_image: bool,
    pub is_video: bool,
    pub is_doc: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub owner: Option<UserSummary>,
}

/// The fields the upload needs, named as in an S3 presigned POST.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadFields {
    /// The file id.
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Content-Type")]
    pub content_type: String,
    #[serde(rename = "ACL")]
    pub acl: String,
    pub bucket: String,
    #[serde(rename = "X-Amz-Algorithm")]
    pub algorithm: String,
    #[serde(rename = "X-Amz-Credential")]
    pub credential: String,
    #[serde(rename = "X-Amz-Date")]
    pub date: String,
    /// Base64 of the upload's conditions (informational).
    #[serde(rename = "Policy")]
    pub policy: String,
    /// The one-time upload signature; shown once, stored only as a hash.
    #[serde(rename = "X-Amz-Signature")]
    pub signature: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedRequest {
    /// Where to POST the multipart form: Roster's upload route.
    pub url: String,
    pub fields: UploadFields,
}

/// The spec's `SignedUpload`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedUpload {
    pub file_id: Uuid,
    pub signed_request: SignedRequest,
    /// Where the file can be downloaded once uploaded.
    pub url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReserveQuery {
    pub mime: Option<String>,
    pub name: Option<String>,
    pub module_code: Option<String>,
}

/// The multipart form of an upload (documentation only; the handler reads it as a stream).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    #[schema(rename = "Key")]
    key: String,
    #[schema(rename = "Content-Type")]
    content_type: String,
    #[schema(rename = "X-Amz-Signature")]
    signature: String,
    /// The bytes; must be the last part, at most 25 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

// ----- rendering ----------------------------------------------------------------------------------

fn download_url(base: &str, id: Uuid) -> String {
    format!("{base}/api/media/{id}")
}

fn render(media: &Media, base: &str, row: &FileRow, owner: Option<UserSummary>) -> File {
    let is_image = row.mime.starts_with("image/");
    let is_video = row.mime.starts_with("video/");
    File {
        id: row.id,
        mime: row.mime.clone(),
        path: row.object_key.clone(),
        name: row.name.clone(),
        processing: serde_json::json!({}),
        metadata: serde_json::json!({ "sha256": row.sha256, "moduleCode": row.module_code }),
        size: row.size,
        url: download_url(base, row.id),
        cdn: None,
        bucket: media.bucket.clone(),
        mp4_urls: vec![],
        hls_url: None,
        dash_url: None,
        thumbnail: None,
        is_image,
        is_video,
        is_doc: !is_image && !is_video,
        created_at: row.created_at,
        owner,
    }
}

/// The uploaded files of `org` among `ids`, rendered with their owners. URLs are relative unless
/// a public URL is configured.
pub async fn files_by_id(st: &AppState, org: Uuid, ids: &[Uuid]) -> Result<HashMap<Uuid, File>, ApiError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = projections::media::files(&st.pool, org, &ids).await?;
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let owners: Vec<Uuid> = rows.iter().filter_map(|r| r.created_by).collect();
    let owners: HashMap<Uuid, UserSummary> =
        queries::users_by_ids(&st.pool, org, &owners).await?.iter().map(|u| (u.id, UserSummary::from(u))).collect();
    let base = st.media.public_url.clone().unwrap_or_default();
    Ok(rows.iter().map(|r| (r.id, render(&st.media, &base, r, r.created_by.and_then(|o| owners.get(&o).cloned())))).collect())
}

// ----- handlers -----------------------------------------------------------------------------------

fn reserve_input(q: ReserveQuery) -> Result<media_cmd::Reserve, ApiError> {
    let mime = q.mime.filter(|s| !s.trim().is_empty()).ok_or_else(|| ApiError::invalid("mime", "is required"))?;
    let name = q.name.filter(|s| !s.trim().is_empty()).ok_or_else(|| ApiError::invalid("name", "is required"))?;
    let raw = q.module_code.filter(|s| !s.trim().is_empty()).ok_or_else(|| ApiError::invalid("moduleCode", "is required"))?;
    let module_code = raw.trim().parse::<i64>().map_err(|_| ApiError::invalid("moduleCode", format!("must be an integer, got '{raw}'")))?;
    Ok(media_cmd::Reserve { name, mime, module_code })
}

async fn reserve(
    st: AppState,
    caller: crate::kernel::auth::Principal,
    ctx: Result<Ctx<WorkDrive>, Error>,
    headers: HeaderMap,
    q: ReserveQuery,
    status: StatusCode,
) -> Result<Response, Error> {
    let org = caller.org()?;
    let input = reserve_input(q)?;
    let ctx = ctx?;
    let (committed, signature) = media_cmd::reserve(&st.store, &ctx, org, input).await?;
    let base = st.media.base(&headers);
    Ok(st
        .respond(&ctx, committed, |st, result| async move {
            let id = result.file_id;
            let signature = signature.ok_or_else(|| {
                ApiError::Conflict("this Idempotency-Key already reserved a file; its upload signature is shown only once".into())
            })?;
            let (state, _) = st.store.load::<MediaAggregate>(id).await.map_err(commands::CommandError::from)?;
            let m = state.ok_or(ApiError::Internal)?;
            let policy = serde_json::json!({
                "expiration": m.expires_at,
                "conditions": [
                    { "bucket": st.media.bucket },
                    { "key": id },
                    { "Content-Type": m.mime },
                    ["content-length-range", 1, MAX_UPLOAD_BYTES],
                ],
            });
            let body = SignedUpload {
                file_id: id,
                signed_request: SignedRequest {
                    url: format!("{base}/api/media"),
                    fields: UploadFields {
                        key: id.to_string(),
                        content_type: m.mime.clone(),
                        acl: "private".into(),
                        bucket: st.media.bucket.clone(),
                        algorithm: SIGNATURE_ALGORITHM.into(),
                        credential: format!("{}/{id}", org.0),
                        date: ctx_date(m.expires_at),
                        policy: base64::engine::general_purpose::STANDARD.encode(policy.to_string()),
                        signature,
                    },
                },
                url: download_url(&base, id),
            };
            let mut resp = (status, axum::Json(body)).into_response();
            resp.extensions_mut().insert(SecretBearing);
            Ok(resp)
        })
        .await?)
}

/// `X-Amz-Date` of the reservation (its expiry minus the upload TTL), in the AWS basic format.
fn ctx_date(expires_at: chrono::DateTime<chrono::Utc>) -> String {
    (expires_at - chrono::Duration::seconds(domain::media::UPLOAD_TTL_SECS)).format("%Y%m%dT%H%M%SZ").to_string()
}

/// E75: reserves a file id and answers where and how to upload it. Any member of an org may.
#[utoipa::path(get, path = "/api/media", tag = "WorkDrive",
    params(("mime" = String, Query), ("name" = String, Query), ("moduleCode" = i64, Query)),
    responses((status = 200, body = SignedUpload), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn reserve_get(
    State(st): State<AppState>,
    Write { caller, ctx }: Write,
    headers: HeaderMap,
    dialect::Query(q, _): Query<ReserveQuery>,
) -> Result<Response, Error> {
    reserve(st, caller, ctx, headers, q, StatusCode::OK).await
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::invalid("file", e.body_text())
    }
}

fn too_large() -> ApiError {
    ApiError::invalid("file", format!("must be at most {MAX_UPLOAD_BYTES} bytes (25 MiB)"))
}

/// `POST /api/media`. With a multipart/form-data body it is the upload `signedRequest.url`
/// points at: every entry of `signedRequest.fields`, then `file`. The one-time signature
/// authorizes it (no token needed); it checks the signature, the declared type and the size (at
/// most 25 MiB), stores the bytes, records `MediaUploaded` and answers the `File` (201). A file is
/// uploaded once. Without a multipart body it is E75's reservation (resolution 66: `mime`, `name`,
/// `moduleCode` in the query, `X-API-KEY`), answered 201 with a `SignedUpload` like the GET.
#[utoipa::path(post, path = "/api/media", tag = "WorkDrive",
    params(("mime" = Option<String>, Query), ("name" = Option<String>, Query), ("moduleCode" = Option<i64>, Query)),
    // Optional: without a body the request is a reservation.
    request_body(content = Option<UploadForm>, content_type = "multipart/form-data"),
    responses((status = 201, body = File, description = "the uploaded file (a reservation answers a SignedUpload)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security((), ("api_key" = [])))]
pub async fn post_media(State(st): State<AppState>, meta: WriteMeta, req: axum::extract::Request) -> Result<Response, Error> {
    use axum::extract::{FromRequest, FromRequestParts};
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
    if multipart {
        let form = Multipart::from_request(req, &st).await;
        return upload(st, meta, form).await;
    }
    let (mut parts, _) = req.into_parts();
    let dialect::Caller(caller, _) = Caller::from_request_parts(&mut parts, &st).await?;
    let dialect::Query(q, _) = Query::<ReserveQuery>::from_request_parts(&mut parts, &st).await?;
    let ctx = meta.context(Some(&caller)).map_err(Error::new);
    reserve(st, caller, ctx, parts.headers, q, StatusCode::CREATED).await
}

async fn upload(st: AppState, meta: WriteMeta, form: Result<Multipart, MultipartRejection>) -> Result<Response, Error> {
    let mut form = form.map_err(|r| ApiError::invalid("body", format!("must be multipart/form-data: {}", r.body_text())))?;
    let mut fields: HashMap<String, String> = HashMap::new();
    loop {
        let field = form.next_field().await.map_err(multipart_error)?;
        let Some(mut field) = field else {
            return Err(ApiError::invalid("file", "is required (the last part of the form)").into());
        };
        let name = field.name().unwrap_or_default().to_string();
        if name != "file" {
            let value = field.text().await.map_err(multipart_error)?;
            fields.insert(name, value);
            continue;
        }
        let key = fields.get("Key").ok_or_else(|| ApiError::invalid("Key", "is required before file"))?;
        let id = Uuid::parse_str(key.trim()).map_err(|_| ApiError::NotFound("file not found".into()))?;
        let signature = fields
            .get("X-Amz-Signature")
            .ok_or_else(|| ApiError::Forbidden("X-Amz-Signature: the upload signature is required".into()))?
            .clone();
        let content_type = fields.get("Content-Type").ok_or_else(|| ApiError::invalid("Content-Type", "is required before file"))?.clone();
        // Refuse before storing anything.
        let state = media_cmd::load(&st.store, id).await?;
        let Some(m) = state.clone() else { return Err(ApiError::NotFound("file not found".into()).into()) };
        let upload_ctx = || -> Result<Ctx<WorkDrive>, ApiError> {
            let mut ctx = meta.context(None)?;
            ctx.org_id = Some(m.org_id);
            ctx.actor = m.reserved_by;
            Ok(ctx)
        };
        if let Err(refused) =
            MediaAggregate::check_upload(&state, &media_cmd::signature_hash(&signature), &content_type, chrono::Utc::now())
        {
            // A retry of a finished upload with the same Idempotency-Key gets the first answer;
            // anything else is refused exactly as the check says (the domain refuses it again,
            // so nothing is appended and no bytes are stored).
            if meta.idempotency_key.is_some() {
                let ctx = upload_ctx()?;
                let none = media_cmd::Uploaded { key: String::new(), size: 0, sha256: String::new() };
                if let Ok(committed) = media_cmd::record_upload(&st.store, &ctx, id, &signature, &content_type, none).await {
                    if committed.is_replay {
                        let org = m.org_id.0;
                        return Ok(st.respond(&ctx, committed, |st, _| uploaded_answer(st, org, id)).await?);
                    }
                }
            }
            return Err(ApiError::from(refused).into());
        }
        if let Some(part_type) = field.content_type() {
            let essence = part_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if essence != "application/octet-stream" && essence != m.mime {
                return Err(ApiError::invalid("file", format!("is '{essence}', but the file was reserved as '{}'", m.mime)).into());
            }
        }
        // A key of its own per upload: a racing second upload of the same id never overwrites
        // the bytes of the one that is recorded.
        let key = format!("{}/{id}/{}", m.org_id, Uuid::now_v7());
        let path = object_store::path::Path::from(key.clone());
        let (size, sha256) = store_stream(&st.media, &path, &mut field).await?;
        let ctx = upload_ctx()?;
        let uploaded = media_cmd::Uploaded { key: key.clone(), size, sha256 };
        let committed = match media_cmd::record_upload(&st.store, &ctx, id, &signature, &content_type, uploaded).await {
            Ok(c) => c,
            Err(e) => {
                if let Err(del) = st.media.store.delete(&path).await {
                    tracing::warn!(error = %del, "cannot delete the bytes of a refused upload");
                }
                return Err(e.into());
            }
        };
        let org = m.org_id.0;
        return Ok(st.respond(&ctx, committed, |st, _| uploaded_answer(st, org, id)).await?);
    }
}

/// Streams the `file` part into the store at `path` (never holding the whole file in memory);
/// answers its size and SHA-256. Nothing stays stored when it fails (too large, empty, cut off).
async fn store_stream(media: &Media, path: &object_store::path::Path, field: &mut Field<'_>) -> Result<(u64, String), ApiError> {
    let store_failed = |e: object_store::Error| {
        tracing::error!(error = %e, path = %path, "cannot store media bytes");
        ApiError::Internal
    };
    let mut writer = WriteMultipart::new(media.store.put_multipart(path).await.map_err(store_failed)?);
    let mut size: u64 = 0;
    let mut hasher = Sha256::new();
    let outcome: Result<(), ApiError> = async {
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            size += chunk.len() as u64;
            if size > MAX_UPLOAD_BYTES {
                return Err(too_large());
            }
            hasher.update(&chunk);
            writer.wait_for_capacity(UPLOAD_CONCURRENCY).await.map_err(store_failed)?;
            writer.write(&chunk);
        }
        if size == 0 {
            return Err(ApiError::invalid("file", "is empty"));
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        if let Err(abort) = writer.abort().await {
            tracing::warn!(error = %abort, "cannot abort a refused media upload");
        }
        return Err(e);
    }
    writer.finish().await.map_err(store_failed)?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// The answer to an upload: the `File`, 201.
async fn uploaded_answer(st: AppState, org: Uuid, id: Uuid) -> Result<Response, ApiError> {
    let file = files_by_id(&st, org, &[id]).await?.remove(&id).ok_or_else(|| ApiError::NotFound("file not found".into()))?;
    Ok((StatusCode::CREATED, axum::Json(file)).into_response())
}

/// Streams an uploaded file's bytes with its content type. Another org's file is 404.
#[utoipa::path(get, path = "/api/media/{id}", tag = "WorkDrive",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "the file's bytes, with its content type", content_type = "application/octet-stream"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn download(State(st): State<AppState>, dialect::Caller(caller, _): Caller, Path(id): Path<String>) -> Result<Response, Error> {
    let org = caller.org()?;
    let id = dialect::uuid_path(&id, "file")?;
    let row = projections::media::file(&st.pool, org.0, id).await?.ok_or_else(|| ApiError::NotFound("file not found".into()))?;
    let got = st.media.store.get(&object_store::path::Path::from(row.object_key.clone())).await.map_err(|e| {
        tracing::error!(error = %e, file_id = %id, "cannot read media bytes");
        ApiError::Internal
    })?;
    let stream = got.into_stream().map(|r| r.map_err(std::io::Error::other));
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&row.mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(row.size));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", row.sha256)) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}
