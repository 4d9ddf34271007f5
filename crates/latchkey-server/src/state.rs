//! The state every handler receives.

use std::ops::Deref;
use std::sync::Arc;

use latchkey_core::Context;
use latchkey_resource::LatchkeyAuth;

/// Shared application state: the core context behind an `Arc`, and the verifier of the
/// admin API's tokens.
#[derive(Debug, Clone)]
pub struct AppState {
    context: Arc<Context>,
    admin: Option<LatchkeyAuth>,
}

impl AppState {
    /// Wraps a started context.
    pub fn new(context: Arc<Context>) -> Self {
        Self {
            admin: crate::admin::operator_auth(&context),
            context,
        }
    }

    /// The verifier of operator tokens, if it could be built.
    pub(crate) fn admin_auth(&self) -> Option<&LatchkeyAuth> {
        self.admin.as_ref()
    }
}

impl Deref for AppState {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.context
    }
}
