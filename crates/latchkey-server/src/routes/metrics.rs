//! `GET /metrics`: every metric in the Prometheus text format, for a scraper.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

use crate::metrics;

/// The current values; on the admin listener when one is configured.
pub(crate) async fn show_metrics() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, metrics::CONTENT_TYPE), (CACHE_CONTROL, "no-store")],
        metrics::render(),
    )
}
