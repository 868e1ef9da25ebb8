//! The `wangge` binary: parse the command line, run, map the outcome to an exit status.

fn main() -> std::process::ExitCode {
    wangge::cli::main()
}
