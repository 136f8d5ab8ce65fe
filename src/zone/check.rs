//! `tldd zone check`.
pub fn run(_file: &std::path::Path, _origin: &str) -> anyhow::Result<bool> {
    anyhow::bail!("not implemented yet")
}
