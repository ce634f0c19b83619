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

/// A loaded 100k-page tree is a few million small strings; mimalloc allocates and frees them in
/// about half the time of the system's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `serve` starts this program again to run the embedding model (cdo_search::embed::helper).
    cdo_search::embed::helper::serve_if_asked();
    cdo_core::store::tls::start_git();
    let cli = args::Cli::parse();
    // A server keeps serving when nobody reads its output any more.
    if !matches!(cli.command, args::Command::Serve { .. }) {
        quiet_on_closed_output();
    }
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`confluence-do tree KEY | head`): nothing more to say.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
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

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// `println!` panics when stdout's reader has gone (`| head`); like other command-line tools,
/// stop quietly then instead of printing a panic.
fn quiet_on_closed_output() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message =
            payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied());
        let message = message.unwrap_or_default();
        let closed = message.contains("Broken pipe") || message.contains("os error 232");
        if message.starts_with("failed printing to stdout") && closed {
            std::process::exit(0);
        }
        default(info);
    }));
}
