//! An ordered read of the JetStream stream (every message from a sequence on, filtered to a
//! subject, in order, each once) that loses nothing when its NATS connection goes silent.
//!
//! Why the client's ordered consumer alone is not enough: it notices a lost message only by the
//! gap in consumer sequences that the *next* message shows. A connection that goes silent without
//! closing (a firewall or a NAT table dropping its state) swallows what the server sends into it
//! until the client's pings give it up; the client then reconnects and the consumer goes on
//! where the server is, past the swallowed messages. The last of them stays undelivered until
//! another message arrives on that subject, which for a quiet chat may be never. The consumer's
//! own idle heartbeat (15 s, which the client does not let an ordered consumer change) did not
//! bring it either: in the e2e test, with no later message, it stayed undelivered for the 45 s
//! the test waits.
//!
//! So after every new connection of the client ([`Connections`]) the read starts a new consumer
//! from the sequence after the last message it returned. Whatever was swallowed is delivered
//! again; nothing is returned twice, since the new consumer starts after the last message
//! returned. A connection made while the new consumer is being created only costs one restart
//! more: connections are marked seen before the consumer is created, never after.
//!
//! A new consumer can be refused: just after a server restart JetStream may still be recovering
//! its streams. The read then tries again, backing off, until one is created, as the client's own
//! ordered consumer does when it recreates itself; giving up would end a chat's stream (or
//! `roster events tail`) over what is usually a blip of a second.

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::{self, stream::Stream};
use futures::StreamExt;

use crate::{nats_err, Backoff, Connections, WorkerError};

/// The longest wait between two attempts at a refused new consumer: short, as a stream waiting on
/// it delivers nothing meanwhile.
const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(2);

pub struct Ordered {
    stream: Stream,
    /// Only messages on this subject (wildcards allowed); empty for every subject.
    filter: String,
    /// The stream sequence to start from after a new connection: the one after the last message
    /// returned.
    next: u64,
    connections: Connections,
    messages: pull::Ordered,
    /// A connection was made since `messages` started: start over before reading on. Kept here,
    /// not in a local, so that a `next` cancelled while starting over starts over again.
    stale: bool,
    /// Waits between refused attempts at starting over; reset once one succeeds.
    backoff: Backoff,
    /// Refused attempts since the last consumer was created: only the first is logged as a
    /// warning, so that an outage logs once per open read, not once per retry.
    refused: u32,
}

impl Ordered {
    /// The messages of `stream` from sequence `start` on, on `filter` (empty: every subject).
    /// `connections` are those of the client `stream` was got through.
    pub async fn start(stream: Stream, filter: String, start: u64, mut connections: Connections) -> Result<Ordered, WorkerError> {
        let messages = consume(&stream, &filter, start, &mut connections).await?;
        Ok(Ordered { stream, filter, next: start, connections, messages, stale: false, backoff: Backoff::new(MAX_BACKOFF), refused: 0 })
    }

    /// The next message; `None` when the messages end (the client is closed). Cancel-safe: a
    /// message is returned or stays to be read, and a start over cut short is done again. A start
    /// over that JetStream refuses is tried again until it succeeds, so it returns no error (and,
    /// after the client is closed, never returns: every reader lives no longer than its client).
    pub async fn next(&mut self) -> Option<Result<jetstream::Message, WorkerError>> {
        loop {
            if self.stale {
                if self.refused == 0 {
                    tracing::debug!(from = self.next, filter = %self.filter, "a new NATS connection: the ordered read starts over");
                }
                match consume(&self.stream, &self.filter, self.next, &mut self.connections).await {
                    Ok(messages) => {
                        self.messages = messages;
                        self.stale = false;
                        self.backoff.reset();
                        self.refused = 0;
                    }
                    Err(e) => {
                        let wait = self.backoff.step();
                        self.refused = self.refused.saturating_add(1);
                        if self.refused == 1 {
                            tracing::warn!(error = %e, from = self.next, filter = %self.filter, "the ordered read could not start over; retrying");
                        } else {
                            tracing::debug!(error = %e, refused = self.refused, ?wait, "the ordered read still cannot start over");
                        }
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                }
            }
            tokio::select! {
                m = self.messages.next() => {
                    let m = match m? {
                        Ok(m) => m,
                        Err(e) => return Some(Err(nats_err(e))),
                    };
                    return Some(match m.info() {
                        Ok(info) => {
                            self.next = info.stream_sequence + 1;
                            Ok(m)
                        }
                        Err(e) => Err(nats_err(e)),
                    });
                }
                () = self.connections.next() => self.stale = true,
            }
        }
    }
}

/// A new ordered consumer from `start`. The connections made so far count as seen first, so that
/// one made while the consumer is created is not missed.
async fn consume(stream: &Stream, filter: &str, start: u64, connections: &mut Connections) -> Result<pull::Ordered, WorkerError> {
    connections.seen();
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: filter.to_string(),
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: start },
            ..Default::default()
        })
        .await
        .map_err(nats_err)?;
    consumer.messages().await.map_err(nats_err)
}
