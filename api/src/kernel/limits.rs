//! Sizes the kernel enforces for every dialect.

/// The largest request body any route accepts (a WorkDrive media upload: 25 MiB of file plus its
/// form fields). Routes raise axum's default up to this, never past it: the idempotency
/// fingerprint hashes bodies of up to this size.
pub const MAX_REQUEST_BODY: usize = 25 * 1024 * 1024 + 64 * 1024;

/// The longest idempotency key accepted, from a header or a dialect's own key source.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
