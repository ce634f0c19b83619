//! `confluence-do`: the command line of confluence.do.

mod args;
mod check;
mod commands;
mod docsync;
mod generate;
mod mcp;
mod migrate;
mod output;
mod search;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = err.to_string();
            for cause in err.chain().skip(1) {
                message.push_str(&format!("\n  caused by: {cause}"));
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
