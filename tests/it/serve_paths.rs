//! What a newcomer trips over when starting `tldd serve`: relative paths in
//! the config are read from the config file's directory, not from wherever
//! the command was typed; a second server on the same data directory is
//! refused with the pid and command line of the one that holds it.
use crate::support::serve::*;
use crate::support::update::serial_at;
use std::process::Command;

#[test]
fn relative_paths_are_from_the_config_file_and_a_second_instance_names_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("etc");
    std::fs::create_dir_all(conf.join("zones")).unwrap();
    std::fs::copy(repo("zones/shop.zone"), conf.join("zones/shop.zone")).unwrap();
    let cfg = conf.join("tldd.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"data\"\nudp_workers = 1\n\
         [[zone]]\norigin = \"shop.\"\nfile = \"zones/shop.zone\"\n",
    )
    .unwrap();
    // Started from another directory (the tempdir root), with a relative -c.
    let elsewhere = dir.path().join("cwd");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let s = Server::try_start_in(
        &elsewhere,
        "../etc/tldd.toml",
        &cfg,
        tempfile::tempdir().unwrap(),
    )
    .unwrap_or_else(|log| panic!("tldd did not start from another directory: {log}"));
    assert!(serial_at(s.addr).is_some(), "the zone is not served");
    assert!(
        conf.join("data").join("zones.sled").exists(),
        "data_dir not beside the config"
    );
    assert!(
        !elsewhere.join("data").exists(),
        "data_dir made in the current directory"
    );

    // A second server on the same data directory.
    let out = Command::new(BIN)
        .args(["serve", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("pid {}", s.child.id())) && err.contains("serve"),
        "the refusal does not name the holder: {err}"
    );
}

#[test]
fn log_format_json_gives_one_json_object_per_line() {
    let s = Server::start(
        "log_format = \"json\"\nmetrics = \"127.0.0.1:0\"\n",
        &format!(
            "[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\n",
            repo("zones/shop.zone").display()
        ),
    );
    assert!(serial_at(s.addr).is_some());
    let log = s.log.lock().unwrap().clone();
    assert!(log.len() >= 3, "{log:?}");
    let mut listening = false;
    for line in &log {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        if v["message"] == "listening" {
            listening = true;
            assert!(
                v["udp"].as_str().is_some_and(|a| a == s.addr.to_string()),
                "{line}"
            );
        }
    }
    assert!(listening, "{log:?}");
}
