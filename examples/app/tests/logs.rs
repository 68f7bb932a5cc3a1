//! The example is what users copy: its logs carry colour only on a
//! terminal, and never when `NO_COLOR` is set.

use std::process::Command;

const ESC: char = '\u{1b}';

fn database() -> String {
    let cluster = throwaway_pg::shared().unwrap_or_else(|e| panic!("cannot start a throwaway PostgreSQL: {e}"));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(cluster.create_database())
        .unwrap()
}

fn app() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_example-app"));
    cmd.env_remove("NO_COLOR");
    cmd
}

/// Runs the example under a pseudo-terminal (util-linux `script`), as a
/// person at a terminal would.
fn on_terminal(url: &str, no_color: Option<&str>) -> String {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", env!("CARGO_BIN_EXE_example-app"), "/dev/null"])
        .env("DATABASE_URL", url)
        .env_remove("NO_COLOR");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd
        .output()
        .expect("util-linux `script` runs the example on a pseudo-terminal");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn logs_to_a_pipe_have_no_colour_escapes() {
    let out = app().env("DATABASE_URL", database()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("INFO Applied: 001_subscription_system.sql"), "{text}");
    assert!(!text.contains(ESC), "{text:?}");
}

#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    let coloured = on_terminal(&database(), None);
    assert!(coloured.contains("Applied: 001_subscription_system.sql"), "{coloured}");
    assert!(coloured.contains(ESC), "{coloured:?}");
    let plain = on_terminal(&database(), Some("1"));
    assert!(plain.contains("Applied: 001_subscription_system.sql"), "{plain}");
    assert!(!plain.contains(ESC), "{plain:?}");
}
