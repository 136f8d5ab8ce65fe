//! Transports.
pub fn run_from_file(_path: &std::path::Path) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
