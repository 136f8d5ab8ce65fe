use super::*;
use tldd_zone::rdata::{NS, SOA};
use tldd_zone::Rec;

fn w(s: &str) -> Box<[u8]> {
    let mut v = Vec::new();
    tldd_zone::name::from_text(s.as_bytes(), &[0], true, &mut v).unwrap();
    v.into()
}

fn soa(serial: u32) -> Vec<u8> {
    let mut v = w("ns.shop.").to_vec();
    v.extend_from_slice(&w("h.shop."));
    for x in [serial, 1, 2, 3, 4] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v
}

fn rec(owner: &str, rtype: u16, rd: &[u8]) -> Rec {
    Rec {
        owner: w(owner),
        rtype,
        class: 1,
        ttl: 3600,
        rdata: rd.into(),
    }
}

fn zone(delegations: usize) -> Zone {
    let mut b = Builder::new(&w("shop."));
    b.add(1, &w("shop."), SOA, 1, 3600, &soa(1));
    b.add(2, &w("shop."), NS, 1, 3600, &w("ns.shop."));
    b.add(3, &w("ns.shop."), 1, 1, 3600, &[1, 2, 3, 4]);
    for i in 0..delegations {
        b.add(
            4,
            &w(&format!("d{i}.shop.")),
            NS,
            1,
            3600,
            &w("ns.example."),
        );
    }
    b.build().unwrap().zone
}

/// Version `from + 1`: delegation `n{from}` added.
fn add_one(from: u32) -> Diff {
    Diff {
        from,
        to: from + 1,
        removed: vec![rec("shop.", SOA, &soa(from))],
        added: vec![
            rec("shop.", SOA, &soa(from + 1)),
            rec(&format!("n{from}.shop."), NS, &w("ns.example.")),
        ],
    }
}

fn wait_for_snapshot(zs: &ZoneJournal) {
    while zs.snap.running.load(Ordering::Acquire) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn snapshot_plus_journal_rebuilds_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let origin = w("shop.");
    let store = Journal::open(dir.path()).unwrap();
    let mut zs = store.zone("shop.", 5).unwrap();
    zs.set_snapshot_after(7);
    assert!(zs.load(&origin).unwrap().is_none(), "empty store");
    // Big enough for several chunks.
    let mut state = ZoneState::new(zone(40_000));
    zs.replace(&state.zone).unwrap();
    assert!(zs.is_complete());
    for v in 1..=30u32 {
        let d = add_one(v);
        state.apply(&d).unwrap();
        zs.commit(&d, &state.zone).unwrap();
        wait_for_snapshot(&zs);
        // What a restart would serve is exactly the last version.
        let again = store
            .zone("shop.", 5)
            .unwrap()
            .load(&origin)
            .unwrap()
            .unwrap();
        assert_eq!(again.serial(), v + 1);
        assert_eq!(again.cuts.len(), 40_000 + v as usize);
        assert!(again.cuts.get(&w(&format!("n{v}.shop."))).is_some());
    }
    // The journal is trimmed to journal_max (plus what the snapshot
    // lacks) and still chains for IXFR.
    assert!(zs.journal_len() <= 5 + 7, "{}", zs.journal_len());
    let chain = zs.journal(29, 31).unwrap().unwrap();
    assert_eq!(chain.len(), 2);
    // One snapshot generation's file only, and no chunks in sled.
    let files = std::fs::read_dir(dir.path().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(files, 1);
    assert_eq!(zs.tree.scan_prefix(b"s").count(), 0);
}

#[test]
fn small_diffs_on_a_big_zone_wait_for_the_size_rule() {
    let dir = tempfile::tempdir().unwrap();
    let store = Journal::open(dir.path()).unwrap();
    let mut zs = store.zone("shop.", 1000).unwrap();
    zs.snapshot_after = 3; // the size rule stays on
    let mut state = ZoneState::new(zone(300));
    zs.replace(&state.zone).unwrap();
    let first = zs.snap.seq.load(Ordering::Acquire);
    let snap_bytes = zs.snap.bytes.load(Ordering::Acquire);
    let mut journal_bytes = 0;
    for v in 1..=1000u32 {
        let d = add_one(v);
        journal_bytes += entry::encode(&d).len() as u64;
        state.apply(&d).unwrap();
        zs.commit(&d, &state.zone).unwrap();
        wait_for_snapshot(&zs);
        if zs.snap.seq.load(Ordering::Acquire) != first {
            assert!(v >= 3);
            assert!(
                journal_bytes * 2 >= snap_bytes,
                "{journal_bytes} vs {snap_bytes}"
            );
            assert!(
                v > 3,
                "a snapshot after 3 tiny versions of a 300-delegation zone"
            );
            return;
        }
    }
    panic!("no snapshot after 1000 versions");
}

#[test]
fn a_half_written_generation_is_ignored_and_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let origin = w("shop.");
    let store = Journal::open(dir.path()).unwrap();
    let mut zs = store.zone("shop.", 10).unwrap();
    let z = zone(100);
    zs.replace(&z).unwrap();
    // A crash while the next generation was being written.
    zs.tree.insert(chunk_key(99, 0), &b"garbage"[..]).unwrap();
    let tmp = dir.path().join("snapshots/shop..99.snap.tmp");
    std::fs::write(&tmp, b"half").unwrap();
    let again = zs.load(&origin).unwrap().unwrap();
    assert_eq!(again.cuts.len(), 100);
    assert!(zs.tree.get(chunk_key(99, 0)).unwrap().is_none());
    assert!(!tmp.exists());
}

#[test]
fn a_damaged_snapshot_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Journal::open(dir.path()).unwrap();
    let mut zs = store.zone("shop.", 10).unwrap();
    zs.replace(&zone(100)).unwrap();
    let path = dir.path().join("snapshots/shop..1.snap");
    let mut v = std::fs::read(&path).unwrap();
    v[40] ^= 1;
    std::fs::write(&path, &v).unwrap();
    let Err(e) = zs.load(&w("shop.")) else {
        panic!("a damaged snapshot loaded");
    };
    assert!(format!("{e:#}").contains("damaged snapshot file"), "{e:#}");
}

#[test]
fn snapshots_in_sled_chunks_from_earlier_versions_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let store = Journal::open(dir.path()).unwrap();
    let mut zs = store.zone("shop.", 10).unwrap();
    let mut state = ZoneState::new(zone(100));
    zs.replace(&state.zone).unwrap();
    // Rewrite generation 1 as an earlier tldd stored it: one chunk.
    let path = dir.path().join("snapshots/shop..1.snap");
    let records = snapfile::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    zs.tree.insert(chunk_key(1, 0), records).unwrap();
    let mut p = Snap::decode(&zs.tree.get(b"p").unwrap().unwrap()).unwrap();
    p.chunks = 1;
    zs.tree.insert(b"p", p.encode()).unwrap();
    let d = add_one(1);
    state.apply(&d).unwrap();
    zs.commit(&d, &state.zone).unwrap();
    let again = zs.load(&w("shop.")).unwrap().unwrap();
    assert_eq!(again.cuts.len(), 101);
    // The next snapshot is a file and the chunks go.
    zs.replace(&state.zone).unwrap();
    assert_eq!(zs.tree.scan_prefix(b"s").count(), 0);
    assert_eq!(zs.load(&w("shop.")).unwrap().unwrap().cuts.len(), 101);
}

#[test]
fn a_truncated_chunk_is_an_error_not_a_panic() {
    let mut b = Builder::new(&w("shop."));
    assert!(decode_chunk(&mut b, &[5, 1, 2]).is_err());
    assert!(decode_chunk(&mut b, &[0, 0, 1, 0, 0, 0, 0, 0, 9]).is_err());
}

/// A store of `shop.` with versions 1..=`versions` committed after the
/// zone; the handles are dropped (as at a stop).
fn stored(dir: &Path, versions: u32) -> ZoneState {
    let store = Journal::open(dir).unwrap();
    let mut zs = store.zone("shop.", 100).unwrap();
    let mut state = ZoneState::new(zone(50));
    zs.replace(&state.zone).unwrap();
    for v in 1..=versions {
        let d = add_one(v);
        state.apply(&d).unwrap();
        zs.commit(&d, &state.zone).unwrap();
    }
    state
}

fn reload(dir: &Path) -> Result<Option<Zone>, StoreError> {
    Journal::open(dir)?.zone("shop.", 100)?.load(&w("shop."))
}

/// `cp -a from to` (`to` must not exist).
fn copy_dir(from: &Path, to: &Path) {
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn a_clean_stop_reloads_the_last_version_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let state = stored(dir.path(), 6);
    let again = reload(dir.path()).unwrap().unwrap();
    assert_eq!(again.serial(), state.serial());
    assert_eq!(again.cuts.len(), 56);
}

#[test]
fn a_journal_that_lost_its_tail_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path(), 3);
    // The journal as it was at version 4 (serial 4), kept aside.
    let old = tempfile::tempdir().unwrap();
    let old_db = old.path().join("zones.sled");
    copy_dir(&dir.path().join("zones.sled"), &old_db);
    // Three more acknowledged versions, then the journal "loses" them.
    {
        let store = Journal::open(dir.path()).unwrap();
        let mut zs = store.zone("shop.", 100).unwrap();
        let mut state = ZoneState::new(zs.load(&w("shop.")).unwrap().unwrap());
        for v in 4..=6 {
            let d = add_one(v);
            state.apply(&d).unwrap();
            zs.commit(&d, &state.zone).unwrap();
        }
    }
    std::fs::remove_dir_all(dir.path().join("zones.sled")).unwrap();
    copy_dir(&old_db, &dir.path().join("zones.sled"));
    let Err(err) = reload(dir.path()) else {
        panic!("a journal behind its mark loaded");
    };
    match &err {
        StoreError::JournalBehind {
            journal_serial,
            acked_serial,
            ..
        } => assert_eq!((*journal_serial, *acked_serial), (4, 7)),
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(text.contains("tldd store check"), "{text}");
}

#[test]
fn a_deleted_journal_next_to_a_snapshot_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path(), 2);
    std::fs::remove_dir_all(dir.path().join("zones.sled")).unwrap();
    assert!(matches!(
        reload(dir.path()),
        Err(StoreError::JournalMissing { .. })
    ));
    // Also with the mark gone: the snapshot file is evidence enough.
    std::fs::remove_dir_all(dir.path().join("marks")).unwrap();
    std::fs::remove_dir_all(dir.path().join("zones.sled")).unwrap();
    assert!(matches!(
        reload(dir.path()),
        Err(StoreError::JournalMissing { .. })
    ));
}

#[test]
fn a_lost_mark_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path(), 2);
    std::fs::remove_file(dir.path().join("marks/shop..hwm")).unwrap();
    assert!(matches!(
        reload(dir.path()),
        Err(StoreError::MarkMissing { .. })
    ));
}

#[test]
fn a_stop_between_journal_and_mark_keeps_the_newer_version() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path(), 3);
    let mark = dir.path().join("marks/shop..hwm");
    let before = std::fs::read(&mark).unwrap();
    // One more version reaches the journal; the mark write is "lost".
    {
        let store = Journal::open(dir.path()).unwrap();
        let mut zs = store.zone("shop.", 100).unwrap();
        let mut state = ZoneState::new(zs.load(&w("shop.")).unwrap().unwrap());
        let d = add_one(4);
        state.apply(&d).unwrap();
        zs.commit(&d, &state.zone).unwrap();
    }
    std::fs::write(&mark, &before).unwrap();
    let again = reload(dir.path()).unwrap().unwrap();
    assert_eq!(again.serial(), 5);
}

#[test]
fn a_mark_for_other_content_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path(), 3);
    let path = dir.path().join("marks/shop..hwm");
    let mut m = mark::read(&path).unwrap().unwrap();
    m.chain[0] ^= 1;
    std::fs::remove_file(&path).unwrap();
    mark::MarkFile::open(&path, &m).unwrap();
    assert!(matches!(
        reload(dir.path()),
        Err(StoreError::ChainMismatch { .. })
    ));
}

#[test]
fn a_damaged_mark_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path(), 3);
    std::fs::write(dir.path().join("marks/shop..hwm"), vec![0u8; 1024]).unwrap();
    assert!(matches!(reload(dir.path()), Err(StoreError::Mark(_))));
}

/// Truncated, zeroed or bit-flipped: whatever sled makes of its files,
/// opening and loading answer (an error or the exact last version),
/// never a panic and never an older version.
#[test]
fn damaged_database_files_are_errors_or_exact() {
    let dir = tempfile::tempdir().unwrap();
    let state = stored(dir.path(), 20);
    let aside = tempfile::tempdir().unwrap();
    let pristine = aside.path().join("data");
    copy_dir(dir.path(), &pristine);
    let db = dir.path().join("zones.sled");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&db).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            files.push(p.file_name().unwrap().to_owned());
        }
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                let q = e.unwrap().path();
                files.push(q.strip_prefix(&db).unwrap().as_os_str().to_owned());
            }
        }
    }
    assert!(!files.is_empty());
    for f in &files {
        for damage in ["truncate", "zero", "flip"] {
            std::fs::remove_dir_all(dir.path()).unwrap();
            copy_dir(&pristine, dir.path());
            let path = db.join(f);
            let mut v = std::fs::read(&path).unwrap();
            if v.is_empty() {
                continue;
            }
            match damage {
                "truncate" => v.truncate(v.len() / 2),
                "zero" => {
                    let at = v.len() / 2;
                    let end = (at + 4096).min(v.len());
                    v[at..end].fill(0);
                }
                _ => {
                    let at = v.len() * 3 / 4;
                    v[at] ^= 0x10;
                }
            }
            std::fs::write(&path, &v).unwrap();
            match reload(dir.path()) {
                Ok(Some(z)) => assert_eq!(
                    z.serial(),
                    state.serial(),
                    "{damage} {f:?}: loaded an older version"
                ),
                Ok(None) => panic!("{damage} {f:?}: loaded as a store never written"),
                Err(e) => {
                    let text = e.to_string();
                    assert!(text.contains("tldd store check"), "{text}");
                }
            }
        }
    }
}

#[test]
fn a_meta_of_a_newer_format_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    stored(dir.path(), 2);
    {
        let store = Journal::open(dir.path()).unwrap();
        let zs = store.zone("shop.", 100).unwrap();
        let mut m = zs.tree.get(b"m").unwrap().unwrap().to_vec();
        m[0] = 9; // a format tag from the future
        zs.tree.insert(b"m", m).unwrap();
        store.db.flush().unwrap();
    }
    assert!(matches!(
        reload(dir.path()),
        Err(StoreError::Damaged { .. })
    ));
}
