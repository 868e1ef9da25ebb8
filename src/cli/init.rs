//! `wangge init DIR`.

use std::path::PathBuf;

use clap::Args;

use super::{CommandResult, ExitStatus, Failure};
use crate::config::init::{DistrictIdentity, InitError, KeySource, init_workspace};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to create the workspace in (created if missing).
    dir: PathBuf,
    /// District name for report titles (default: 唐山高新技术产业开发区).
    #[arg(long)]
    district_name: Option<String>,
    /// 6-digit district code (default: 130273).
    #[arg(long)]
    district_code: Option<String>,
}

pub fn run(args: InitArgs) -> CommandResult {
    let mut district = DistrictIdentity::default();
    if let Some(name) = args.district_name {
        district.short_name = name.clone();
        district.name = name;
    }
    if let Some(code) = args.district_code {
        district.code = code;
    }
    match init_workspace(&args.dir, &district, KeySource::Random) {
        Ok(()) => {
            say!("Created workspace `{}`", args.dir.display());
            say!(
                "  edit `{}` to name your district, then put the communities' files in `inbox/`",
                args.dir.join("wangge.toml").display()
            );
            Ok(ExitStatus::Success)
        }
        Err(e @ InitError::AlreadyExists(_)) => Err(Failure::usage(e)),
        Err(e) => Err(Failure::output(e)),
    }
}
