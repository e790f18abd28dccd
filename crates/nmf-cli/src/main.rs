//! `nmf`: parses the command line and runs the command. Usage errors exit 2 (clap's code),
//! bad input and failed jobs exit 1 with one line on stderr, success exits 0.

use clap::Parser;

fn main() {
    let cli = match nmf_cli::Cli::try_parse() {
        Ok(c) => c,
        // --help and --version exit 0, usage errors 2, with clap's message.
        Err(e) => e.exit(),
    };
    let json = cli.json;
    if let Err(e) = cli.run() {
        // The whole cause chain on one line, no backtrace: these are user-facing errors.
        let msg = format!("{e:#}").replace('\n', " ");
        eprintln!("error: {msg}");
        if json {
            println!("{}", serde_json::json!({ "ok": false, "error": msg }));
        }
        std::process::exit(nmf_cli::exit_code(&e));
    }
}
