//! `tldd keys`: key management. Not yet implemented.
use clap::Args;

/// `tldd keys ...` arguments.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// tldd configuration file.
    #[arg(short, long)]
    pub config: std::path::PathBuf,
}

/// Entry point of `tldd keys`.
pub fn run(_args: KeysArgs) -> anyhow::Result<()> {
    anyhow::bail!("tldd keys is not implemented yet")
}
