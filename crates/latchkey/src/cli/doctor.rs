//! `latchkey doctor`: the security posture report; exits non-zero on a high finding.

use anyhow::bail;
use clap::Args;
use latchkey_core::clock::{Clock as _, SystemClock};
use latchkey_core::doctor::{self, Deployment, Severity};

use crate::app;
use crate::config::Settings;

/// Check the configuration and registry against OAuth's known pitfalls.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Print the findings as a JSON array.
    #[arg(long)]
    json: bool,
}

impl DoctorArgs {
    pub(crate) async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let opened = app::open(settings).await?;
        let config = settings.auth_config(settings.listen_addr()?);
        let deployment = Deployment {
            master_key_beside_database: opened.master_key_beside_database,
        };
        let findings = doctor::examine(opened.store.as_ref(), &config, deployment, SystemClock.now()).await?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&findings)?);
        } else if findings.is_empty() {
            println!("no findings");
        } else {
            for f in &findings {
                let severity = match f.severity {
                    Severity::High => "HIGH",
                    Severity::Medium => "MEDIUM",
                    Severity::Low => "LOW",
                };
                println!("{severity:<6}  {}  {}", f.check, f.subject);
                println!("        {}", f.problem);
                println!("        why: {}", f.reason);
                println!("        fix: {}", f.fix);
            }
        }
        let high = findings.iter().filter(|f| f.severity == Severity::High).count();
        if high > 0 {
            bail!("{high} high-severity finding(s)");
        }
        Ok(())
    }
}
