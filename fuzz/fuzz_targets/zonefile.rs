//! Any bytes as a zone file: the reader and the checker must return errors,
//! never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("tldd-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("z");
    if std::fs::write(&path, data).is_ok() {
        let _ = tldd_zone::load::load_file(&path, "shop.", &tldd_zone::progress::Quiet);
    }
});
