//! The DNSSEC signer (NSEC3, RRSIG). Not yet implemented.
use clap::Args;

/// `tldd sign` arguments.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// tldd configuration file.
    #[arg(short, long)]
    pub config: std::path::PathBuf,
    /// Zone to sign, e.g. `shop.`.
    #[arg(long)]
    pub zone: String,
    /// Where to write the signed zone (RFC 1035 text).
    #[arg(long)]
    pub out: std::path::PathBuf,
}

/// Entry point of `tldd sign`.
pub fn run(_args: SignArgs) -> anyhow::Result<()> {
    anyhow::bail!("tldd sign is not implemented yet")
}
