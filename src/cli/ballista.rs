//! `wangge ballista scheduler|executor`: the roles of an Apache Ballista cluster, for a city or
//! province that outgrows one PC (README, "When one PC is not enough"). They run until stopped
//! (systemd units in `contrib/`); runs choose the cluster with `[engine]` or `--engine`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CommandResult, ExitStatus, Failure};
use crate::cluster::{ExecutorOptions, SchedulerOptions};

#[derive(Debug, Args)]
pub struct BallistaArgs {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Run a scheduler: it plans each query into stages and hands tasks to the executors.
    Scheduler {
        /// Address to listen on (loopback by default; give the LAN address to serve other
        /// machines).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
        /// An executor not heard from for this many seconds is dead, and a job it held fails.
        #[arg(long, default_value_t = 20)]
        executor_timeout_seconds: u64,
    },
    /// Run an executor: it reads the warehouse (at the same absolute path as the clients see
    /// it) and runs the tasks the scheduler gives it.
    Executor {
        /// The scheduler's address.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: SocketAddr,
        /// The address to listen on and to be reached at.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Arrow Flight port (results and shuffles); a second executor on one machine needs
        /// other ports.
        #[arg(long, default_value_t = 50051)]
        flight_port: u16,
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Folder for shuffle files and spills.
        #[arg(long)]
        work_dir: PathBuf,
        /// Tasks run at once (default: the number of CPUs).
        #[arg(long)]
        cores: Option<usize>,
        /// Memory the tasks share before they spill to the work folder, in MiB.
        #[arg(long, default_value_t = 2048)]
        memory_mib: u64,
        /// Seconds between heartbeats to the scheduler.
        #[arg(long, default_value_t = 5)]
        heartbeat_seconds: u64,
    },
}

pub fn run(args: BallistaArgs) -> CommandResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::output(anyhow::anyhow!("cannot start the runtime: {e}")))?;
    let outcome = match args.role {
        Role::Scheduler { bind, executor_timeout_seconds } => {
            say!("Ballista scheduler listening on {bind}");
            runtime.block_on(crate::cluster::scheduler(&SchedulerOptions { bind, executor_timeout_seconds }))
        }
        Role::Executor { scheduler, host, flight_port, grpc_port, work_dir, cores, memory_mib, heartbeat_seconds } => {
            let cores = cores.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            say!(
                "Ballista executor on {host}:{flight_port} (gRPC {grpc_port}), scheduler {scheduler}, {cores} core(s)"
            );
            let options = ExecutorOptions {
                scheduler,
                host,
                flight_port,
                grpc_port,
                work_dir,
                cores,
                memory_mib,
                heartbeat_seconds,
            };
            runtime.block_on(crate::cluster::executor(&options))
        }
    };
    outcome.map_err(Failure::output)?;
    Ok(ExitStatus::Success)
}
