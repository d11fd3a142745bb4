//! Prometheus metrics of a client: rows and bytes written, operations, errors and latency.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

pub(crate) struct Metrics {
    registry: Registry,
    operations: IntCounterVec,
    errors: IntCounterVec,
    rows: IntCounterVec,
    bytes: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let registry =
            Registry::new_custom(Some("lakeorm".into()), None).unwrap_or_else(|_| Registry::new());
        let operations = IntCounterVec::new(
            Opts::new("operations_total", "Operations executed, by operation"),
            &["operation"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new("errors_total", "Operations that failed, by operation"),
            &["operation"],
        )
        .expect("valid metric");
        let rows = IntCounterVec::new(
            Opts::new("rows_written_total", "Rows handed to writes, by table"),
            &["table"],
        )
        .expect("valid metric");
        let bytes = IntCounterVec::new(
            Opts::new(
                "bytes_written_total",
                "Bytes written by the engine, by table",
            ),
            &["table"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("operation_seconds", "Latency of operations, by operation")
                .buckets(prometheus::exponential_buckets(0.001, 2.0, 16).unwrap_or_default()),
            &["operation"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(operations.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(errors.clone()),
            Box::new(rows.clone()),
            Box::new(bytes.clone()),
            Box::new(latency.clone()),
        ] {
            // Names are unique by construction; a failure here would be a programming error.
            let _ = registry.register(collector);
        }
        Metrics {
            registry,
            operations,
            errors,
            rows,
            bytes,
            latency,
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Records one operation and its latency; failures also count as errors.
    pub(crate) fn operation(&self, operation: &str, elapsed: Duration, ok: bool) {
        self.operations.with_label_values(&[operation]).inc();
        self.latency
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
        if !ok {
            self.errors.with_label_values(&[operation]).inc();
        }
    }

    /// Records what a successful write handed to the engine.
    pub(crate) fn written(&self, table: &str, rows: u64, bytes: u64) {
        self.rows.with_label_values(&[table]).inc_by(rows);
        self.bytes.with_label_values(&[table]).inc_by(bytes);
    }
}
