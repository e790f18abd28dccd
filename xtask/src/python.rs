//! Running the Python scripts in `scripts/` (scikit-learn's side of the comparisons).
//!
//! Python lives in those files, never in Rust strings, so it can be read, linted and run on its
//! own. The scripts are found from this crate's source location rather than the working
//! directory, so the commands work from any folder.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// `scripts/NAME` of the workspace this xtask was built from.
pub(crate) fn script(name: &str) -> PathBuf {
    // CARGO_MANIFEST_DIR is xtask/ at compile time; scripts/ sits beside it.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts")
        .join(name)
}

/// Runs `PYTHON scripts/NAME ARGS` and returns its standard output. A script that cannot start
/// or exits with an error is an error carrying its standard error.
pub(crate) fn run<I, S>(python: &str, name: &str, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(python)
        .arg(script(name))
        .args(args)
        .output()
        .with_context(|| format!("running {python} scripts/{name} (pip install scikit-learn)"))?;
    if !out.status.success() {
        bail!(
            "scikit-learn side (scripts/{name}) failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `PYTHON scripts/NAME ARGS` with this process's terminal, so a long script's progress
/// shows as it goes; its failure is an error.
pub(crate) fn exec<I, S>(python: &str, name: &str, args: I) -> Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let status = Command::new(python)
        .arg(script(name))
        .args(args)
        .status()
        .with_context(|| format!("running {python} scripts/{name}"))?;
    if !status.success() {
        bail!("scripts/{name} failed ({status})");
    }
    Ok(())
}
