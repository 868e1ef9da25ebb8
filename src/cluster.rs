//! The two roles of an Apache Ballista cluster, embedded in wangge's own binary (`wangge
//! ballista scheduler|executor`): the same DataFusion and Arrow as the client, any function of
//! our own registered on every side, and nothing else to install on an office server.
//!
//! Both bind to loopback unless told otherwise. The liveness settings are short, so that an
//! executor that dies fails the jobs it held within half a minute (Ballista's defaults wait three
//! minutes, and with no executor at all a job waits for ever: ../shared/docs/ballista.md, G9);
//! the client's own `[engine] run_timeout_minutes` is the last guard.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the Ballista {role} stopped: {message}")]
    Stopped { role: &'static str, message: String },
    #[error("cannot create the executor's work folder `{}`", path.display())]
    WorkDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How a scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: SocketAddr,
    /// An executor not heard from for this long is dead; its tasks fail or go elsewhere.
    pub executor_timeout_seconds: u64,
}

/// How an executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `host:port`.
    pub scheduler: SocketAddr,
    /// The address it binds and tells the scheduler and clients to reach it at.
    pub host: String,
    /// Arrow Flight (results to clients, shuffles to other executors) and gRPC ports.
    pub flight_port: u16,
    pub grpc_port: u16,
    /// Shuffle files and spills.
    pub work_dir: PathBuf,
    /// Tasks run at once.
    pub cores: usize,
    /// Memory its tasks share before they spill (MiB).
    pub memory_mib: u64,
    pub heartbeat_seconds: u64,
}

/// Runs a scheduler until the process ends.
pub async fn scheduler(options: &SchedulerOptions) -> Result<(), ClusterError> {
    let stopped =
        |e: ballista_core::error::BallistaError| ClusterError::Stopped { role: "scheduler", message: e.to_string() };
    let timeout = options.executor_timeout_seconds.max(2);
    let config = SchedulerConfig {
        bind_host: options.bind.ip().to_string(),
        external_host: options.bind.ip().to_string(),
        bind_port: options.bind.port(),
        executor_timeout_seconds: timeout,
        // Looked for every few seconds; a job with no executor left fails soon after.
        expire_dead_executor_interval_seconds: (timeout / 4).max(1),
        no_executors_grace_period_seconds: timeout / 2,
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(stopped)?;
    start_server(cluster, options.bind, Arc::new(config)).await.map_err(stopped)
}

/// Runs an executor until the process ends.
pub async fn executor(options: &ExecutorOptions) -> Result<(), ClusterError> {
    std::fs::create_dir_all(&options.work_dir)
        .map_err(|source| ClusterError::WorkDir { path: options.work_dir.clone(), source })?;
    let work_dir = std::path::absolute(&options.work_dir)
        .map_err(|source| ClusterError::WorkDir { path: options.work_dir.clone(), source })?;
    let config = ExecutorProcessConfig {
        bind_host: options.host.clone(),
        external_host: Some(options.host.clone()),
        port: options.flight_port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler.ip().to_string(),
        scheduler_port: options.scheduler.port(),
        scheduler_connect_timeout_seconds: 20,
        vcores: options.cores.max(1),
        work_dir: Some(work_dir.to_string_lossy().into_owned()),
        executor_heartbeat_interval_seconds: options.heartbeat_seconds.max(1),
        memory_pool_size: Some(options.memory_mib << 20),
        // Shuffle files of finished jobs go after a day, looked for hourly.
        job_data_ttl_seconds: 24 * 3600,
        job_data_clean_up_interval_seconds: 3600,
        print_thread_info: false,
        ..Default::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| ClusterError::Stopped { role: "executor", message: e.to_string() })
}
