//! The `latchkey` binary as a separate process, for tests that kill it or starve its disk.
//!
//! The binary is the one cargo built for this test run, or the one named by
//! `LATCHKEY_TEST_BIN` (`bench/crash` points that at a release build).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process, killed when dropped.
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `latchkey` command with no inherited `LATCHKEY_*` settings.
pub(crate) fn latchkey() -> Command {
    let binary =
        std::env::var("LATCHKEY_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_latchkey").to_owned());
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars() {
        if name.starts_with("LATCHKEY_") {
            command.env_remove(name);
        }
    }
    command.stdin(Stdio::null());
    command
}

/// Starts `latchkey serve` on `port` with quiet logs and `args` added.
pub(crate) fn serve(database_url: &str, port: u16, args: &[&str], env: &[(&str, &str)]) -> Process {
    let child = latchkey()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--issuer", &format!("http://127.0.0.1:{port}")])
        .args(args)
        .env("LATCHKEY_DATABASE_URL", database_url)
        .env("LATCHKEY_LOG", "error")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Process(child)
}

/// A port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for `/healthz` to answer.
pub(crate) async fn wait_until_up(http: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up at {base}");
}
