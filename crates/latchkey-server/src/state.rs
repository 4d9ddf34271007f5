//! The state every handler receives.

use std::ops::Deref;
use std::sync::Arc;

use latchkey_core::Context;

/// Shared application state: the core context behind an `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Context>);

impl AppState {
    /// Wraps a started context.
    pub fn new(context: Arc<Context>) -> Self {
        Self(context)
    }
}

impl Deref for AppState {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.0
    }
}
