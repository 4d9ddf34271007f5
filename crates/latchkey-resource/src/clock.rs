//! Time, injected: every expiry decision reads the clock through [`Clock`], so tests (and
//! deployments with their own time source) can say what "now" is.

/// A source of the current time, in seconds since the Unix epoch (the unit of JWT `exp`).
///
/// Any `Fn() -> i64` closure is a clock, which is the easy way to pin time in a test:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicI64, Ordering};
///
/// let now = Arc::new(AtomicI64::new(1_700_000_000));
/// let clock = {
///     let now = Arc::clone(&now);
///     move || now.load(Ordering::SeqCst)
/// };
/// # fn takes_a_clock(_: impl latchkey_resource::Clock) {}
/// takes_a_clock(clock);
/// now.fetch_add(3600, Ordering::SeqCst); // an hour later, for every verification
/// ```
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

impl<F> Clock for F
where
    F: Fn() -> i64 + Send + Sync + 'static,
{
    fn now(&self) -> i64 {
        self()
    }
}

/// The system clock, the default.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the system clock; everything else takes `now`"
    )]
    fn now(&self) -> i64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
    }
}
