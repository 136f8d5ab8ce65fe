//! The lightweight SRS (EPP, lifecycle, publisher). Not yet implemented.
use clap::Args;

/// `tldd srs ...` arguments.
#[derive(Debug, Args)]
pub struct SrsArgs {
    /// SRS configuration file.
    #[arg(short, long)]
    pub config: std::path::PathBuf,
}

/// Entry point of `tldd srs`.
pub fn run(_args: SrsArgs) -> anyhow::Result<()> {
    anyhow::bail!("tldd srs is not implemented yet")
}
