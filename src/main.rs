//! The `labgrade` binary: parse the command line, run the command, exit with the code of error.rs.

use clap::Parser;

use labgrade::cli::{Cli, Command};
use labgrade::commands;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => commands::run(*args),
        Command::Validate { labs } => commands::validate(&labs),
        Command::List { dir, markdown } => commands::list(&dir, markdown),
        Command::Report {
            dir,
            format,
            templates,
        } => commands::report(&dir, &format, templates.as_deref()),
        Command::Verify { dir } => commands::verify(&dir),
        Command::Explain { lab } => commands::explain(&lab),
        Command::Schema => commands::schema(),
        Command::Guide => commands::guide(),
    };
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(e.exit_code());
        }
    }
}
