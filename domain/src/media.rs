//! Media files (WorkDrive E75 and the upload it refers to). A file id is reserved first
//! (`MediaReserved`, carrying the SHA-256 of a one-time upload signature, never the signature),
//! then uploaded once (`MediaUploaded`). Only an uploaded file of the caller's organization may be
//! referenced (`fileId`, `coverFileId`, ...).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::DomainEvent;
use crate::values::required_text;
use crate::{DomainError, OrgId, UserId};

/// Largest file one upload may carry.
pub const MAX_UPLOAD_BYTES: u64 = 25 * 1024 * 1024;
pub const MAX_FILE_NAME_LEN: usize = 255;
/// How long a reservation's upload signature stays valid.
pub const UPLOAD_TTL_SECS: i64 = 3600;

/// The spec's document types plus the image and video types it adds (E75, resolution 65).
pub const ALLOWED_MIME_TYPES: &[&str] = &[
    "text/plain",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/quicktime",
    "video/webm",
];

/// A content type as clients send it (`Image/PNG; charset=x`) → `image/png` if allowed.
pub fn allowed_mime(field: &str, raw: &str) -> Result<String, DomainError> {
    let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if !ALLOWED_MIME_TYPES.contains(&essence.as_str()) {
        return Err(DomainError::invalid(field, format!("'{essence}' is not an allowed type; allowed: {}", ALLOWED_MIME_TYPES.join(", "))));
    }
    Ok(essence)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub name: String,
    pub mime: String,
    pub reserved_by: Option<UserId>,
    pub upload_token_sha256: String,
    pub expires_at: DateTime<Utc>,
    pub uploaded: bool,
}

#[derive(Debug, Clone)]
pub enum MediaCommand {
    Reserve {
        id: uuid::Uuid,
        org_id: OrgId,
        name: String,
        mime: String,
        module_code: i64,
        reserved_by: Option<UserId>,
        upload_token_sha256: String,
        now: DateTime<Utc>,
    },
    /// `token_sha256` is the hash of the signature the client presented.
    Upload { token_sha256: String, content_type: String, now: DateTime<Utc>, key: String, size: u64, sha256: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum MediaEvent {
    MediaReserved {
        id: uuid::Uuid,
        org_id: OrgId,
        name: String,
        mime: String,
        module_code: i64,
        reserved_by: Option<UserId>,
        /// SHA-256 (hex) of the one-time upload signature; the signature itself is never stored.
        upload_token_sha256: String,
        expires_at: DateTime<Utc>,
    },
    MediaUploaded {
        file_id: uuid::Uuid,
        size: u64,
        mime: String,
        name: String,
        /// SHA-256 (hex) of the bytes.
        sha256: String,
        /// Where the bytes are in the object store.
        key: String,
        uploaded_by: Option<UserId>,
    },
}

impl DomainEvent for MediaEvent {
    const STREAM_TYPE: &'static str = "media";

    fn event_type(&self) -> &'static str {
        match self {
            MediaEvent::MediaReserved { .. } => "MediaReserved",
            MediaEvent::MediaUploaded { .. } => "MediaUploaded",
        }
    }
}

pub struct MediaAggregate;

impl MediaAggregate {
    /// The checks an upload must pass before its bytes are stored (and again when it is recorded).
    pub fn check_upload(state: &Option<Media>, token_sha256: &str, content_type: &str, now: DateTime<Utc>) -> Result<(), DomainError> {
        let m = state.as_ref().ok_or(DomainError::NotFound("file"))?;
        if m.upload_token_sha256 != token_sha256 {
            return Err(DomainError::Forbidden("X-Amz-Signature: the upload signature does not match this file".into()));
        }
        if m.uploaded {
            return Err(DomainError::invalid("key", "this file was already uploaded; reserve a new one"));
        }
        if now > m.expires_at {
            return Err(DomainError::Forbidden("X-Amz-Signature: the upload signature has expired; reserve a new file".into()));
        }
        let declared = allowed_mime("content_type", content_type)?;
        if declared != m.mime {
            return Err(DomainError::invalid("content_type", format!("must be '{}', the type the file was reserved with", m.mime)));
        }
        Ok(())
    }
}

impl esrs::Aggregate for MediaAggregate {
    const NAME: &'static str = "media";
    type State = Option<Media>;
    type Command = MediaCommand;
    type Event = MediaEvent;
    type Error = DomainError;

    fn handle_command(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error> {
        match command {
            MediaCommand::Reserve { id, org_id, name, mime, module_code, reserved_by, upload_token_sha256, now } => {
                if state.is_some() {
                    return Err(DomainError::AlreadyExists("file"));
                }
                let name = required_text("name", &name, MAX_FILE_NAME_LEN)?;
                if name.chars().any(char::is_control) {
                    return Err(DomainError::invalid("name", "must not contain control characters"));
                }
                let mime = allowed_mime("mime", &mime)?;
                if module_code < 1 {
                    return Err(DomainError::invalid("module_code", "must be a positive module code"));
                }
                let expires_at = now + chrono::Duration::seconds(UPLOAD_TTL_SECS);
                Ok(vec![MediaEvent::MediaReserved { id, org_id, name, mime, module_code, reserved_by, upload_token_sha256, expires_at }])
            }
            MediaCommand::Upload { token_sha256, content_type, now, key, size, sha256 } => {
                Self::check_upload(state, &token_sha256, &content_type, now)?;
                if size > MAX_UPLOAD_BYTES {
                    return Err(DomainError::invalid("file", format!("must be at most {MAX_UPLOAD_BYTES} bytes (25 MiB)")));
                }
                let m = state.as_ref().ok_or(DomainError::NotFound("file"))?;
                Ok(vec![MediaEvent::MediaUploaded {
                    file_id: m.id,
                    size,
                    mime: m.mime.clone(),
                    name: m.name.clone(),
                    sha256,
                    key,
                    uploaded_by: m.reserved_by,
                }])
            }
        }
    }

    fn apply_event(state: Self::State, event: Self::Event) -> Self::State {
        match event {
            MediaEvent::MediaReserved { id, org_id, name, mime, reserved_by, upload_token_sha256, expires_at, .. } => {
                Some(Media { id, org_id, name, mime, reserved_by, upload_token_sha256, expires_at, uploaded: false })
            }
            MediaEvent::MediaUploaded { .. } => state.map(|mut m| {
                m.uploaded = true;
                m
            }),
        }
    }
}

/// A reference (`fileId`, `coverFileId`, ...) to a file: it must be uploaded and the org's.
pub fn check_reference(state: &Option<Media>, org: OrgId, field: &str) -> Result<(), DomainError> {
    match state {
        Some(m) if m.org_id == org && m.uploaded => Ok(()),
        Some(m) if m.org_id == org => Err(DomainError::invalid(field, "this file has not been uploaded yet")),
        _ => Err(DomainError::invalid(field, "no such file in this organization")),
    }
}

#[cfg(test)]
mod tests {
    use esrs::Aggregate;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn org() -> OrgId {
        OrgId(uuid::Uuid::from_u128(2))
    }

    fn reserve(mime: &str) -> Result<Option<Media>, DomainError> {
        let cmd = MediaCommand::Reserve {
            id: uuid::Uuid::from_u128(1),
            org_id: org(),
            name: "a.png".into(),
            mime: mime.into(),
            module_code: 1,
            reserved_by: None,
            upload_token_sha256: "h".into(),
            now: now(),
        };
        Ok(MediaAggregate::handle_command(&None, cmd)?.into_iter().fold(None, MediaAggregate::apply_event))
    }

    fn upload(state: &Option<Media>, token: &str, ct: &str, size: u64, at: DateTime<Utc>) -> Result<Vec<MediaEvent>, DomainError> {
        let cmd = MediaCommand::Upload {
            token_sha256: token.into(),
            content_type: ct.into(),
            now: at,
            key: "k".into(),
            size,
            sha256: "s".into(),
        };
        MediaAggregate::handle_command(state, cmd)
    }

    #[test]
    fn only_allowed_types_are_reserved() {
        assert!(reserve("image/PNG; charset=binary").unwrap().is_some_and(|m| m.mime == "image/png"));
        assert!(matches!(reserve("application/x-msdownload"), Err(DomainError::Invalid { ref field, .. }) if field == "mime"));
    }

    #[test]
    fn an_upload_needs_the_signature_the_type_the_size_and_happens_once() {
        let m = reserve("image/png").unwrap();
        assert!(matches!(upload(&m, "wrong", "image/png", 1, now()), Err(DomainError::Forbidden(_))));
        assert!(matches!(upload(&m, "h", "image/gif", 1, now()), Err(DomainError::Invalid { ref field, .. }) if field == "content_type"));
        assert!(
            matches!(upload(&m, "h", "image/png", MAX_UPLOAD_BYTES + 1, now()), Err(DomainError::Invalid { ref field, .. }) if field == "file")
        );
        let late = now() + chrono::Duration::seconds(UPLOAD_TTL_SECS + 1);
        assert!(matches!(upload(&m, "h", "image/png", 1, late), Err(DomainError::Forbidden(_))));
        let events = upload(&m, "h", "image/png", 1, now()).unwrap();
        let m = events.into_iter().fold(m, MediaAggregate::apply_event);
        assert!(matches!(upload(&m, "h", "image/png", 1, now()), Err(DomainError::Invalid { ref field, .. }) if field == "key"));
        assert_eq!(check_reference(&m, org(), "file_id"), Ok(()));
        assert!(check_reference(&m, OrgId(uuid::Uuid::from_u128(9)), "file_id").is_err());
    }

    #[test]
    fn a_reserved_but_not_uploaded_file_cannot_be_referenced() {
        let m = reserve("image/png").unwrap();
        assert!(
            matches!(check_reference(&m, org(), "cover_file_id"), Err(DomainError::Invalid { ref field, .. }) if field == "cover_file_id")
        );
        assert!(check_reference(&None, org(), "file_id").is_err());
    }
}
