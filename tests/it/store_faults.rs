//! Fault injection on every persisted file, as a failing disk or a careless
//! operator would do it: each file of the zone store (sled's files, the
//! snapshot, the high-water mark), the key state and audit log, and the
//! SRS store is truncated, zeroed, bit-flipped or cut at its tail, the
//! journal directory and the mark deleted. Then `tldd serve` either
//! refuses to start with a message naming the store and what to do, or
//! serves exactly the last acknowledged version: never a panic, never an
//! older version. `tldd store check` reports the damage, and
//! `tldd store recover` makes the zone servable again under a serial past
//! the acknowledged one, after which updates apply again.
use crate::support::serve as common;
use crate::support::update as update_kit;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use update_kit::*;

const VERSIONS: u32 = 8;

/// Starts `tldd serve -c cfg`: the server, or the log of a refusal.
fn try_serve(cfg: &Path) -> Result<Server, String> {
    Server::try_start_with_config(cfg, tempfile::tempdir().unwrap())
}

/// The delegations the test's updates add.
fn delegation(i: u32) -> String {
    format!("fault{i}.shop.")
}

/// `tldd serve` on the damaged store: a refusal that says what is wrong
/// and what to do, or exactly the acknowledged version.
fn refused_or_exact(cfg: &Path, acked_serial: u32, what: &str) -> bool {
    match try_serve(cfg) {
        Err(stderr) => {
            assert!(!stderr.contains("panicked"), "{what}: a panic: {stderr}");
            let last = stderr.lines().last().unwrap_or_default();
            assert!(
                last.starts_with("tldd: ") && last.contains("tldd store check"),
                "{what}: the refusal does not say what to do: {stderr}"
            );
            true
        }
        Ok(s) => {
            let serial = serial_at(s.addr);
            let zone = axfr(s.addr);
            assert!(s.stop(), "{what}: tldd did not stop cleanly");
            assert_eq!(
                serial,
                Some(acked_serial),
                "{what}: served another version than the acknowledged one"
            );
            for i in 1..=VERSIONS {
                let owner = delegation(i);
                assert!(
                    zone.iter().any(|l| l.starts_with(&owner)),
                    "{what}: acknowledged {owner} missing"
                );
            }
            false
        }
    }
}

/// `cp -a from to` (`to` must not exist).
fn copy_dir(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(ok.success(), "cp -a {} {}", from.display(), to.display());
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Damages `path` in place; false when the file is too small for it.
fn damage(path: &Path, how: &str) -> bool {
    let mut v = std::fs::read(path).unwrap();
    if v.is_empty() {
        return false;
    }
    match how {
        "truncate half" => v.truncate(v.len() / 2),
        "cut 4 KiB tail" => {
            if v.len() <= 4096 {
                return false;
            }
            v.truncate(v.len() - 4096)
        }
        "zero 4 KiB" => {
            let at = (v.len() / 2) & !511;
            let end = (at + 4096).min(v.len());
            v[at..end].fill(0);
        }
        "flip a bit" => {
            let at = v.len() * 3 / 4;
            v[at] ^= 0x04;
        }
        "empty" => v.clear(),
        _ => unreachable!(),
    }
    std::fs::write(path, v).unwrap();
    true
}

fn tldd(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A primary with `VERSIONS` acknowledged updates, stopped; returns the
/// config and the acknowledged serial.
fn store_with_updates(dir: &Path, zone_extra: &str) -> (PathBuf, u32) {
    let cfg = dir.join("tldd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\nudp_workers = 1\n{}\
             [[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nupdate_key = \"srs-key\"\n\
             transfer_key = \"xfr-key\"\n{zone_extra}",
            dir.join("data").display(),
            keys_toml(),
            repo("zones/shop.zone").display()
        ),
    )
    .unwrap();
    if zone_extra.contains("[zone.dnssec]") {
        crate::support::dnssec::ksk_and_zsk(&cfg, "shop.");
    }
    let s = Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    let key = Some(("hmac-sha256", "srs-key", SECRET));
    for i in 1..=VERSIONS {
        let (ok, out) = nsupdate(
            &s,
            key,
            &format!("update add {} 3600 NS ns.example.net.", delegation(i)),
        );
        assert!(ok, "update {i}: {out}");
    }
    let acked = serial_at(s.addr).unwrap();
    assert!(s.stop(), "tldd did not stop cleanly");
    (cfg, acked)
}

#[test]
fn damaged_zone_store_files_refuse_or_serve_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, acked) = store_with_updates(dir.path(), "");
    let data = dir.path().join("data");
    let pristine = dir.path().join("pristine");
    copy_dir(&data, &pristine);
    let mut files = Vec::new();
    for part in ["zones.sled", "snapshots", "marks"] {
        files_under(&data.join(part), &mut files);
    }
    let (mut refusals, mut exact) = (0, 0);
    for f in &files {
        for how in [
            "truncate half",
            "cut 4 KiB tail",
            "zero 4 KiB",
            "flip a bit",
            "empty",
        ] {
            std::fs::remove_dir_all(&data).unwrap();
            copy_dir(&pristine, &data);
            if !damage(f, how) {
                continue;
            }
            let what = format!("{how} {}", f.strip_prefix(&data).unwrap().display());
            if refused_or_exact(&cfg, acked, &what) {
                refusals += 1;
                // What serve refused, check reports.
                let (ok, out) = tldd(&["store", "check", data.to_str().unwrap()]);
                assert!(!ok && out.contains("damaged"), "{what}: store check: {out}");
                assert!(!out.contains("panicked"), "{what}: {out}");
            } else {
                exact += 1;
            }
        }
    }
    // The whole journal, or the mark, deleted.
    for gone in ["zones.sled", "marks"] {
        std::fs::remove_dir_all(&data).unwrap();
        copy_dir(&pristine, &data);
        std::fs::remove_dir_all(data.join(gone)).unwrap();
        let what = format!("{gone} deleted");
        assert!(
            refused_or_exact(&cfg, acked, &what),
            "{what}: served although the store cannot be checked"
        );
        refusals += 1;
    }
    eprintln!("store faults: {refusals} refusals, {exact} exact starts");
    assert!(refusals > 0);
}

#[test]
fn a_store_that_lost_its_journal_is_recovered_past_the_acknowledged_serial() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, acked) = store_with_updates(dir.path(), "");
    let data = dir.path().join("data");
    // The operator's sound store: check says so, recover leaves it.
    let (ok, out) = tldd(&["store", "check", data.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("serial {acked}")), "{out}");
    let (ok, out) = tldd(&["store", "recover", "-c", cfg.to_str().unwrap()]);
    assert!(ok && out.contains("nothing changed"), "{out}");
    // The journal's tail gone (its database from before the last updates
    // would do the same): serve refuses, recover salvages.
    std::fs::remove_dir_all(data.join("zones.sled")).unwrap();
    assert!(try_serve(&cfg).is_err(), "served without its journal");
    let (ok, out) = tldd(&["store", "recover", "-c", cfg.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("recovered zone shop."), "{out}");
    let aside: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.starts_with("damaged-").then_some(n)
        })
        .collect();
    assert_eq!(aside.len(), 1, "the damaged store is kept aside");
    let (ok, out) = tldd(&["store", "check", data.to_str().unwrap()]);
    assert!(ok, "after recover: {out}");
    let s =
        try_serve(&cfg).unwrap_or_else(|log| panic!("the recovered store does not serve: {log}"));
    let addr = s.addr;
    let serial = serial_at(addr).unwrap();
    assert!(
        serial.wrapping_sub(acked) < 1 << 31 && serial != acked,
        "recovered serial {serial} is not past the acknowledged {acked}: secondaries would keep theirs"
    );
    // The registry's repairs apply again (what `tldd srs reconcile` sends).
    let out = Command::new("nsupdate")
        .arg("-y")
        .arg(format!("hmac-sha256:srs-key:{SECRET}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(
                format!(
                    "server {} {}\nzone shop.\nupdate add {} 3600 NS ns.example.net.\nsend\n",
                    addr.ip(),
                    addr.port(),
                    delegation(VERSIONS)
                )
                .as_bytes(),
            )?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    assert!(wait_for(10, || axfr(addr)
        .iter()
        .any(|l| l.starts_with(&delegation(VERSIONS)))));
    assert!(s.stop());
}

#[test]
fn damaged_key_state_and_audit_log_are_named_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _) = store_with_updates(
        dir.path(),
        "[zone.dnssec]\nkeystore = \"soft\"\nalgorithm = 13\n",
    );
    let data = dir.path().join("data");
    let pristine = dir.path().join("pristine");
    copy_dir(&data, &pristine);
    let state = data.join("keys/state.json");
    let log = data.join("keys/audit.log");
    assert!(state.exists() && log.exists());
    for how in ["truncate half", "zero 4 KiB", "flip a bit", "empty"] {
        std::fs::remove_dir_all(&data).unwrap();
        copy_dir(&pristine, &data);
        damage(&state, how);
        match try_serve(&cfg) {
            Err(stderr) => {
                assert!(!stderr.contains("panicked"), "{how} state.json: {stderr}");
                assert!(stderr.contains("state.json"), "{how}: {stderr}");
            }
            Ok(s) => {
                // Only a harmless flip may serve, and then signed.
                let soa = kdig_at(s.addr, &["+dnssec", "shop.", "SOA"]);
                drop(s);
                assert!(soa.contains("RRSIG"), "{how} state.json: served unsigned");
            }
        }
        let (_, out) = tldd(&["store", "check", data.to_str().unwrap()]);
        assert!(!out.contains("panicked"), "{out}");
    }
    for how in ["truncate half", "zero 4 KiB", "flip a bit"] {
        std::fs::remove_dir_all(&data).unwrap();
        copy_dir(&pristine, &data);
        damage(&log, how);
        let (ok, out) = tldd(&["store", "check", data.to_str().unwrap()]);
        assert!(
            !ok && out.contains("damaged keys/audit.log"),
            "{how} audit.log: {out}"
        );
        // A key operation refuses to extend the broken chain.
        let before = std::fs::read(&log).unwrap();
        let (ok, out) = tldd(&[
            "keys",
            "-c",
            cfg.to_str().unwrap(),
            "generate",
            "--zone",
            "shop.",
            "--role",
            "zsk",
        ]);
        assert!(!ok && out.contains("audit log"), "{how}: {out}");
        assert_eq!(std::fs::read(&log).unwrap(), before);
    }
}

#[test]
fn a_damaged_srs_store_is_named_never_a_panic() {
    use crate::support::srs::Srs;
    let tmp = tempfile::tempdir().unwrap();
    let srs = Srs::new(tmp.path(), free_port(), "");
    srs.add_registrar("registrar-a", "secret-pw-1", &[]);
    let data = tmp.path().join("srs-data");
    let pristine = tmp.path().join("pristine");
    copy_dir(&data, &pristine);
    let mut files = Vec::new();
    files_under(&data.join("srs.sled"), &mut files);
    let mut refused = 0;
    for f in &files {
        for how in ["truncate half", "zero 4 KiB", "flip a bit", "empty"] {
            std::fs::remove_dir_all(&data).unwrap();
            copy_dir(&pristine, &data);
            if !damage(f, how) {
                continue;
            }
            let what = format!("{how} {}", f.strip_prefix(&data).unwrap().display());
            // A read of the store: the registrar list.
            let (ok, out, err) = srs.cli(&["registrar", "list"]);
            assert!(!err.contains("panicked"), "{what}: {err}");
            if ok {
                assert!(
                    out.contains("registrar-a"),
                    "{what}: the registrar is gone: {out}"
                );
            } else {
                assert!(err.contains("srs.sled"), "{what}: {err}");
                refused += 1;
            }
            let (_, out) = tldd(&["store", "check", data.to_str().unwrap()]);
            assert!(!out.contains("panicked"), "{what}: {out}");
        }
    }
    eprintln!("srs store faults: {refused} refusals");
    assert!(refused > 0);
    // A restore from an older backup is refused until the operator
    // accepts it, and then says what it lacks.
    let older = tmp.path().join("older");
    copy_dir(&pristine, &older);
    std::fs::remove_dir_all(&data).unwrap();
    copy_dir(&pristine, &data);
    srs.add_registrar("registrar-b", "secret-pw-2", &[]);
    std::fs::remove_dir_all(data.join("srs.sled")).unwrap();
    copy_dir(&older.join("srs.sled"), &data.join("srs.sled"));
    let (ok, _, err) = srs.cli(&["registrar", "list"]);
    assert!(
        !ok && err.contains("acknowledged transactions are lost"),
        "{err}"
    );
    let (ok, out) = tldd(&["store", "recover", "--srs-data", data.to_str().unwrap()]);
    assert!(
        ok && out.contains("acknowledged transactions are lost"),
        "{out}"
    );
    let (ok, out, err) = srs.cli(&["registrar", "list"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("registrar-a") && !out.contains("registrar-b"),
        "{out}"
    );
}
