//! Loading and checking configuration: `wangge.toml` and (later) the declared pipelines.
//!
//! Configuration is loaded strictly: unknown keys are errors, and all errors of a file are
//! reported at once with file, line and column.

pub mod forms;
pub mod init;
pub mod strict;
pub mod workspace;

pub use strict::ConfigError;
pub use workspace::{CONFIG_FILE, Workspace, WorkspaceConfig};
