//! The HTTP kernel every dialect shares, knowing no product: the one error type, what a dialect
//! supplies (token place, error shape), authentication, idempotency, read-your-writes, the write
//! path and the limits it enforces.

pub mod auth;
pub mod bus;
pub mod consistency;
pub mod dialect;
pub mod error;
pub mod idempotency;
pub mod limits;
pub mod request_id;
pub mod write;


