//! Counting the spans a full batch queue drops.
//!
//! The SDK's `BatchSpanProcessor` (0.33) drops a span when its queue is full and keeps the
//! count to itself: it logs the first drop once through its internal logs and the total at
//! shutdown, and exposes the count only as an experimental self-metric on the global meter.
//! So the queue's bound is kept here, in front of it, exactly: [`Counted`] forwards a span
//! only while fewer than the queue's capacity are pending (ended, not yet handed to the
//! exporter), and counts the others as dropped; [`Dequeued`] marks spans as handed over when
//! the processor passes a batch to the exporter. Pending spans bound what the SDK's channel
//! holds, so the SDK never finds its queue full: every span is either exported or counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor,
};

use super::report::ExportReport;

/// The SDK's default queue size (`OTEL_BSP_MAX_QUEUE_SIZE`, OpenTelemetry SDK environment
/// variables: "Batch Span Processor").
const DEFAULT_QUEUE_SIZE: usize = 2048;

/// Spans ended and not yet handed to the exporter, against the queue's capacity.
#[derive(Debug)]
struct Pending {
    spans: AtomicUsize,
    capacity: usize,
}

/// A batch span processor for `exporter` whose queue-full drops are counted in `report`. Its
/// queue size is `OTEL_BSP_MAX_QUEUE_SIZE`, read as the SDK reads it (the SDK reads the other
/// `OTEL_BSP_*` variables itself), and set explicitly so that both bounds are the same.
pub(super) fn batch<E>(exporter: E, report: Arc<ExportReport>) -> Counted<BatchSpanProcessor>
where
    E: SpanExporter + 'static,
{
    let capacity = std::env::var("OTEL_BSP_MAX_QUEUE_SIZE")
        .ok()
        .and_then(|size| size.parse().ok())
        .unwrap_or(DEFAULT_QUEUE_SIZE);
    with_capacity(exporter, report, capacity)
}

/// [`batch`] with a queue of `capacity` spans.
pub(super) fn with_capacity<E>(
    exporter: E,
    report: Arc<ExportReport>,
    capacity: usize,
) -> Counted<BatchSpanProcessor>
where
    E: SpanExporter + 'static,
{
    let pending = Arc::new(Pending {
        spans: AtomicUsize::new(0),
        capacity,
    });
    let processor = BatchSpanProcessor::builder(Dequeued {
        inner: exporter,
        pending: Arc::clone(&pending),
    })
    .with_batch_config(
        BatchConfigBuilder::default()
            .with_max_queue_size(capacity)
            .build(),
    )
    .build();
    Counted {
        inner: processor,
        pending,
        report,
    }
}

/// A span processor that forwards a span only while the queue behind it has room, and
/// counts the others as dropped (see the [module docs](self)).
#[derive(Debug)]
pub(super) struct Counted<P> {
    inner: P,
    pending: Arc<Pending>,
    report: Arc<ExportReport>,
}

impl<P: SpanProcessor> SpanProcessor for Counted<P> {
    #[inline]
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        // Taken before the check, given back when there is no room: concurrent callers never
        // forward more than the capacity.
        if self.pending.spans.fetch_add(1, Ordering::AcqRel) >= self.pending.capacity {
            self.pending.spans.fetch_sub(1, Ordering::AcqRel);
            self.report.span_dropped(self.pending.capacity);
            return;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The exporter behind the queue: a batch handed to it leaves the queue.
#[derive(Debug)]
struct Dequeued<E> {
    inner: E,
    pending: Arc<Pending>,
}

impl<E: SpanExporter> SpanExporter for Dequeued<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        // Counted when handed over, before the export runs (or times out).
        self.pending.spans.fetch_sub(batch.len(), Ordering::AcqRel);
        self.inner.export(batch)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
