//! Background upkeep for one node: pull revocations made elsewhere, pick up rotated keys,
//! purge what has expired, and sample the metrics' gauges. Each interval is also the
//! staleness bound it documents.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::Context;

const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Runs until the task is aborted.
pub(crate) async fn run(context: Arc<Context>) {
    let mut sync = tokio::time::interval(context.config.cache_ttl);
    let mut keys = tokio::time::interval(context.config.key_refresh);
    let mut purge = tokio::time::interval(PURGE_EVERY);
    for interval in [&mut sync, &mut keys, &mut purge] {
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
    }
    // Its first tick is left to fire at once, so key ages are reported from the start.
    let mut sample = tokio::time::interval(crate::metrics::SAMPLE_EVERY);
    sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = sync.tick() => {
                if let Err(error) = context.sync_revocations().await {
                    tracing::warn!(%error, "revocation sync failed; will retry");
                }
            }
            _ = keys.tick() => {
                if let Err(error) = context.refresh_keys().await {
                    tracing::warn!(%error, "key refresh failed; will retry");
                }
            }
            _ = purge.tick() => {
                if let Err(error) = context.purge_expired().await {
                    tracing::warn!(%error, "purge failed; will retry");
                }
            }
            _ = sample.tick() => {
                if let Err(error) = crate::metrics::sample(&context).await {
                    tracing::debug!(%error, "sampling metrics failed; will retry");
                }
            }
        }
    }
}
