//! `/admin/v1/doctor`: the security posture report (as `latchkey doctor` prints it).

use axum::Json;
use axum::extract::State;
use latchkey_core::doctor::{self, Finding, Severity};
use serde::Serialize;
use utoipa::ToSchema;

use super::Problem;
use crate::state::AppState;

/// One finding.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FindingInfo {
    /// `low`, `medium` or `high`.
    severity: &'static str,
    /// A stable name for the check, e.g. `implicit-grant`.
    check: &'static str,
    /// What it concerns: `client:ID`, `setting:NAME`, `key:KID`.
    subject: String,
    problem: String,
    /// Why it matters, with the RFC section.
    reason: &'static str,
    fix: String,
}

impl From<Finding> for FindingInfo {
    fn from(f: Finding) -> Self {
        Self {
            severity: match f.severity {
                Severity::Low => "low",
                Severity::Medium => "medium",
                Severity::High => "high",
            },
            check: f.check,
            subject: f.subject,
            problem: f.problem,
            reason: f.reason,
            fix: f.fix,
        }
    }
}

/// The report: findings, most severe first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Report {
    findings: Vec<FindingInfo>,
    /// How many findings are high severity (the CLI exits non-zero when any are).
    high: usize,
}

/// Check the live configuration and registry against OAuth's known pitfalls.
#[utoipa::path(get, path = "/admin/v1/doctor", tag = "doctor",
    responses((status = 200, body = Report), (status = 401, body = Problem)))]
pub(crate) async fn show_report(State(app): State<AppState>) -> Result<Json<Report>, Problem> {
    let findings = doctor::examine(app.store.as_ref(), &app.config, app.config.deployment, app.now()).await?;
    let high = findings.iter().filter(|f| f.severity == Severity::High).count();
    Ok(Json(Report {
        findings: findings.into_iter().map(FindingInfo::from).collect(),
        high,
    }))
}
