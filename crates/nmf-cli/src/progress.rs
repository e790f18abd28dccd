//! What the commands print: a progress bar when stderr is a terminal, a plain line every few
//! seconds otherwise (logs and CI keep a readable record), nothing with `--quiet`; the summary on
//! stdout, or one JSON object there with `--json`. Also the man pages.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nmf::IterInfo;

/// `--quiet` and `--json`.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub quiet: bool,
    pub json: bool,
}

impl Output {
    /// A human line for the summary: stdout normally, stderr with `--json` (stdout is the
    /// JSON), nothing with `--quiet`.
    pub fn say(&self, line: &str) {
        if self.quiet {
            return;
        }
        if self.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    /// The machine-readable result (only with `--json`).
    pub fn result(&self, value: &serde_json::Value) {
        if self.json {
            println!("{value}");
        }
    }
}

/// Progress of one fit: `observer` is handed to `fit_with`.
pub struct FitProgress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    last: Instant,
    every: Duration,
}

impl FitProgress {
    pub fn new(out: Output, max_iter: usize) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = (!out.quiet && tty).then(|| {
            let pb = indicatif::ProgressBar::new(max_iter as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} iterations {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            pb
        });
        FitProgress {
            bar,
            plain: !out.quiet && !tty,
            last: Instant::now(),
            every: Duration::from_secs(5),
        }
    }

    pub fn observe(&mut self, info: &IterInfo) -> ControlFlow<()> {
        let obj = info
            .objective
            .map_or_else(String::new, |o| format!("objective {o:.6e}"));
        if let Some(pb) = &self.bar {
            pb.set_position(info.iter as u64);
            if info.objective.is_some() {
                pb.set_message(obj);
            }
        } else if self.plain && self.last.elapsed() >= self.every {
            self.last = Instant::now();
            eprintln!("iteration {} ({:.1} s) {obj}", info.iter, info.elapsed);
        }
        ControlFlow::Continue(())
    }

    pub fn finish(&self) {
        if let Some(pb) = &self.bar {
            pb.finish_and_clear();
        }
    }
}

/// `nmf man`: nmf.1 on stdout, or one page per subcommand into `out`.
pub fn man(out: Option<&Path>) -> Result<()> {
    let cmd = <crate::Cli as clap::CommandFactory>::command();
    match out {
        None => clap_mangen::Man::new(cmd)
            .render(&mut std::io::stdout())
            .context("writing the man page"),
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))
        }
    }
}
