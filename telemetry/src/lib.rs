//! Roster's metrics (issue #15): one Prometheus registry that every layer records into and
//! `GET /metrics` encodes (OpenMetrics text).
//!
//! A process-wide registry on purpose: the API, the store, the relay and the projection runner
//! may share one process (`roster serve --role all`) or not, and each records what it does
//! without being handed a handle through every constructor. Labels are bounded sets (dialects,
//! route templates — never raw paths —, methods, statuses, projection names), so a client cannot
//! grow the registry.
//!
//! The dashboard in `docs/grafana-dashboard.json` is built on exactly these names.

use std::sync::atomic::AtomicU64;
use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// One HTTP answer: which dialect served it, the route template it matched, how, and its status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub dialect: &'static str,
    pub route: String,
    pub method: String,
    pub status: u16,
}

/// One route of one dialect (durations are not split by status).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub dialect: &'static str,
    pub route: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProjectionLabels {
    pub projection: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamLabels {
    pub stream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `in_use` or `idle`.
    pub state: &'static str,
}

type F64Gauge = Gauge<f64, AtomicU64>;

fn seconds() -> Histogram {
    // 0.25 ms to ~8 s: an indexed read, an append, a slow rebuild batch.
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

fn sizes() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 12))
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub append_duration: Histogram,
    pub append_conflicts: Counter,
    pub append_group_commands: Histogram,
    pub relay_publish_duration: Histogram,
    pub projection_apply_duration: Family<ProjectionLabels, Histogram, fn() -> Histogram>,
    pub projection_batch_size: Family<ProjectionLabels, Histogram, fn() -> Histogram>,
    /// Sampled when `/metrics` is read (they come from the database and the pool).
    pub projection_lag_events: Family<ProjectionLabels, F64Gauge>,
    pub projection_lag_seconds: Family<ProjectionLabels, F64Gauge>,
    pub projection_parked_events: Family<ProjectionLabels, F64Gauge>,
    pub relay_lag_events: Family<StreamLabels, F64Gauge>,
    pub relay_lag_seconds: Family<StreamLabels, F64Gauge>,
    pub seal_lag_events: F64Gauge,
    pub seal_lag_seconds: F64Gauge,
    pub db_pool_connections: Family<PoolLabels, F64Gauge>,
    pub nats_connected: F64Gauge,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("roster");
        let m = Metrics {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(seconds),
            append_duration: seconds(),
            append_conflicts: Counter::default(),
            append_group_commands: sizes(),
            relay_publish_duration: seconds(),
            projection_apply_duration: Family::new_with_constructor(seconds),
            projection_batch_size: Family::new_with_constructor(sizes),
            projection_lag_events: Family::default(),
            projection_lag_seconds: Family::default(),
            projection_parked_events: Family::default(),
            relay_lag_events: Family::default(),
            relay_lag_seconds: Family::default(),
            seal_lag_events: F64Gauge::default(),
            seal_lag_seconds: F64Gauge::default(),
            db_pool_connections: Family::default(),
            nats_connected: F64Gauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register("http_requests", "HTTP answers by dialect, route template, method and status", m.http_requests.clone());
        r.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by dialect, route and method",
            m.http_duration.clone(),
        );
        r.register(
            "append_duration_seconds",
            "Time to append one command's events (one transaction, shared with the commands appended together)",
            m.append_duration.clone(),
        );
        r.register(
            "append_conflicts",
            "Appends that lost a race on a stream's version (retried once, then answered 409)",
            m.append_conflicts.clone(),
        );
        r.register(
            "append_group_commands",
            "Commands appended by one call of roster_append (appends that arrive together share one)",
            m.append_group_commands.clone(),
        );
        r.register("relay_publish_duration_seconds", "Time to publish one batch of events to JetStream", m.relay_publish_duration.clone());
        r.register(
            "projection_apply_duration_seconds",
            "Time to apply one batch of events to a projection (one transaction)",
            m.projection_apply_duration.clone(),
        );
        r.register("projection_batch_size_events", "Events in one batch a projection applies", m.projection_batch_size.clone());
        r.register("projection_lag_events", "Events a projection has not applied yet", m.projection_lag_events.clone());
        r.register("projection_lag_seconds", "Age of the oldest event a projection has not applied yet", m.projection_lag_seconds.clone());
        r.register(
            "projection_parked_events",
            "Events a projection parked (refused, or behind a refused one of their stream); see `roster projection parked`",
            m.projection_parked_events.clone(),
        );
        r.register("relay_lag_events", "Events the relay has not published to NATS yet, per JetStream stream", m.relay_lag_events.clone());
        r.register("relay_lag_seconds", "Age of the oldest event the relay has not published yet", m.relay_lag_seconds.clone());
        r.register("seal_lag_events", "Events in the log not sealed yet", m.seal_lag_events.clone());
        r.register("seal_lag_seconds", "Age of the oldest event not sealed yet (0 when caught up)", m.seal_lag_seconds.clone());
        r.register("db_pool_connections", "Database pool connections of this process, in use or idle", m.db_pool_connections.clone());
        r.register("nats_connected", "Whether this process's NATS connection is up (1) or not (0)", m.nats_connected.clone());
        Metrics { registry, ..m }
    }

    /// The registry in Prometheus' text format (0.0.4), which every scraper and `promtool check
    /// metrics` read.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        prometheus_text(&out)
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// OpenMetrics text (what prometheus-client writes) → Prometheus text: the two differ only in
/// that OpenMetrics names a counter family without its `_total` suffix in `# HELP`/`# TYPE`
/// and ends with `# EOF`, while Prometheus' format names the family as its samples are named.
fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> =
        openmetrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "].into_iter().find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let name = if counters.contains(name) { format!("{name}_total") } else { name.to_string() };
                out.push_str(&format!("{prefix}{name} {tail}"));
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Records `elapsed` in a seconds histogram.
pub fn observe(h: &Histogram, elapsed: Duration) {
    h.observe(elapsed.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_prometheus_format_with_prefixed_names() {
        let m = metrics();
        m.http_requests
            .get_or_create(&HttpLabels { dialect: "portsip", route: "/api/groups".into(), method: "GET".into(), status: 200 })
            .inc();
        m.append_conflicts.inc();
        let text = m.encode();
        assert!(
            text.contains("roster_http_requests_total{dialect=\"portsip\",route=\"/api/groups\",method=\"GET\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(text.contains("# TYPE roster_append_conflicts_total counter"), "{text}");
        assert!(text.contains("# HELP roster_append_conflicts_total Appends that lost"), "{text}");
        assert!(!text.contains("# EOF") && !text.contains(".."), "{text}");
    }
}
