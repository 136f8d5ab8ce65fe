//! `tldd zone check FILE --origin ORIGIN`: parse, build and report.
//!
//! Prints one line per problem, `FILE:LINE: error|warning: message`, sorted
//! by line, then a summary. Returns `false` when any error was found so the
//! command exits non-zero (warnings alone do not fail a check).
use std::path::Path;
use tldd_zone::load::{load_file, Severity};
use tldd_zone::progress::Quiet;

/// Runs the check; `Ok(true)` when the zone has no errors.
pub fn run(file: &Path, origin: &str) -> anyhow::Result<bool> {
    let origin = if origin.ends_with('.') {
        origin.to_string()
    } else {
        format!("{origin}.")
    };
    let loaded = match load_file(file, &origin, &Quiet) {
        Ok(l) => l,
        Err(e) => {
            println!("{e}");
            println!("{}: 1 error", file.display());
            return Ok(false);
        }
    };
    let mut errors = 0;
    let mut warnings = 0;
    for p in &loaded.problems {
        let sev = match p.severity {
            Severity::Error => {
                errors += 1;
                "error"
            }
            Severity::Warning => {
                warnings += 1;
                "warning"
            }
        };
        println!("{}:{}: {sev}: {}", file.display(), p.line, p.message);
    }
    let summary = format!(
        "{}: {} records, {} delegations, serial {}: {errors} error(s), {warnings} warning(s)",
        file.display(),
        loaded.records,
        loaded.zone.cuts.len(),
        loaded.zone.serial()
    );
    println!("{summary}");
    // The process ends here: skip freeing millions of small allocations.
    std::mem::forget(loaded);
    Ok(errors == 0)
}
