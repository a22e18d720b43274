//! `itsm`: the all-in-one server and the operator commands.

use clap::Parser;
use itsm::cli::{Cli, Command};
use itsm::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("itsm: configuration error: {error:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if matches!(cli.command, Command::Serve { .. }) {
        itsm::telemetry::init(&config.log);
    }
    match itsm::cli::run(cli.command, config).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("itsm: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
