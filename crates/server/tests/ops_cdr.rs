//! CDR writer: every record lands exactly once, in order, across rotations and shutdown.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use sbc_server::cdr::{CdrConfig, CdrRecord, CdrWriter, EndedBy, UtcMillis};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbc-ops-cdr-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn record(i: usize) -> CdrRecord {
    let mut r = CdrRecord {
        node: "lab".into(),
        call_id: format!("call-{i}"),
        tenant: (i % 2 == 0).then(|| "contoso".to_owned()),
        trunk_in: "teams".into(),
        trunk_out: Some("pstn".into()),
        calling: "+15551230000".into(),
        called: format!("+4930{i:06}"),
        invite_at: UtcMillis(1_795_321_800_123),
        first_18x_at: Some(UtcMillis(1_795_321_800_323)),
        answer_at: (i % 3 != 0).then_some(UtcMillis(1_795_321_805_123)),
        end_at: UtcMillis(1_795_321_865_123),
        duration_ms: 0,
        setup_delay_ms: None,
        final_status: if i % 3 != 0 { 200 } else { 486 },
        q850_cause: Some(if i % 3 != 0 { 16 } else { 17 }),
        ended_by: EndedBy::Caller,
        emergency: i == 7,
    };
    r.fill_durations();
    r
}

/// Every line of the rotated files (oldest first) and then the current file.
fn all_lines(path: &Path) -> (Vec<String>, usize) {
    try_all_lines(path).expect("a consistent view of the CDR files")
}

/// [`all_lines`] while the writer may still be rotating or writing: `None` when a file
/// vanished between the listing and the read (renamed by a rotation) or ends mid-line (a
/// write in progress), so the caller looks again.
fn try_all_lines(path: &Path) -> Option<(Vec<String>, usize)> {
    let dir = path.parent().expect("parent");
    let base = path
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let mut rotated: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{base}.")))
        })
        .collect();
    // Stamps sort lexically; a `.N` suffix (same millisecond) sorts after its base name,
    // but `.10` before `.2`: sort by (stamp, numeric suffix).
    rotated.sort_by_key(|p| {
        let n = p.file_name().expect("name").to_string_lossy().into_owned();
        let rest = &n[base.len() + 1..];
        let (stamp, suffix) = match rest.strip_suffix('Z') {
            Some(_) => (rest.to_owned(), 0),
            None => {
                let (s, k) = rest.rsplit_once('.').expect("suffix");
                (s.to_owned(), k.parse::<u32>().expect("numeric suffix"))
            }
        };
        (stamp, suffix)
    });
    let files = rotated.len() + 1;
    let mut lines = Vec::new();
    for p in rotated.iter().chain(std::iter::once(&path.to_path_buf())) {
        let text = std::fs::read_to_string(p).ok()?;
        if !(text.is_empty() || text.ends_with('\n')) {
            return None;
        }
        lines.extend(text.lines().map(str::to_owned));
    }
    Some((lines, files))
}

fn call_ids(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("valid JSON line");
            v["call_id"].as_str().expect("call_id").to_owned()
        })
        .collect()
}

fn expected(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("call-{i}")).collect()
}

#[tokio::test]
async fn all_records_in_order_after_close() {
    let d = dir("order");
    let path = d.join("cdr.jsonl");
    let cfg = CdrConfig {
        fsync_batch: 64,
        ..CdrConfig::new(&path)
    };
    let counters = cfg.counters.clone();
    let w = CdrWriter::start(cfg).expect("start");
    let sink = w.sink();
    const N: usize = 500;
    for i in 0..N {
        sink.send(record(i)).await.expect("send");
    }
    drop(sink);
    w.close().await.expect("close");
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), N);
    assert_eq!(call_ids(&lines), expected(N));
    assert_eq!(counters.written.get(), N as u64);
    assert_eq!(counters.write_errors.get(), 0);

    let v: serde_json::Value = serde_json::from_str(&lines[1]).expect("json");
    assert_eq!(v["invite_at"], "2026-11-22T04:30:00.123Z");
    assert_eq!(v["first_18x_at"], "2026-11-22T04:30:00.323Z");
    assert_eq!(v["answer_at"], "2026-11-22T04:30:05.123Z");
    assert_eq!(v["end_at"], "2026-11-22T04:31:05.123Z");
    assert_eq!(v["duration_ms"], 60_000);
    assert_eq!(v["setup_delay_ms"], 200);
    assert_eq!(v["final_status"], 200);
    assert_eq!(v["q850_cause"], 16);
    assert_eq!(v["ended_by"], "caller");
    assert_eq!(v["tenant"], serde_json::Value::Null);
    assert_eq!(v["emergency"], false);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
    assert_eq!(
        (v["answer_at"].is_null(), &v["duration_ms"]),
        (true, &0.into())
    );
    assert_eq!(v["tenant"], "contoso");
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn rotation_by_size_keeps_every_line() {
    let d = dir("size");
    let path = d.join("cdr.jsonl");
    let cfg = CdrConfig {
        rotate_bytes: Some(4096),
        rotate_interval: None,
        fsync_batch: 16,
        ..CdrConfig::new(&path)
    };
    let counters = cfg.counters.clone();
    let w = CdrWriter::start(cfg).expect("start");
    let sink = w.sink();
    const N: usize = 400;
    for i in 0..N {
        sink.send(record(i)).await.expect("send");
        if i % 50 == 0 {
            tokio::task::yield_now().await;
        }
    }
    w.close().await.expect("close");
    let (lines, files) = all_lines(&path);
    assert!(files >= 5, "only {files} files");
    assert_eq!(counters.rotations.get() as usize, files - 1);
    assert_eq!(lines.len(), N);
    assert_eq!(call_ids(&lines), expected(N));
    for e in std::fs::read_dir(&d).expect("read_dir") {
        let len = e.expect("entry").metadata().expect("meta").len();
        assert!(len <= 4096, "a file grew to {len} bytes");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn rotation_by_time() {
    let d = dir("time");
    let path = d.join("cdr.jsonl");
    let cfg = CdrConfig {
        rotate_interval: Some(Duration::from_millis(150)),
        fsync_interval: Duration::from_millis(20),
        ..CdrConfig::new(&path)
    };
    let w = CdrWriter::start(cfg).expect("start");
    let sink = w.sink();
    sink.record(record(0)).expect("record");
    sink.record(record(1)).expect("record");
    // The non-empty file is rotated at its deadline even without new records.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (lines, files) = all_lines(&path);
    assert_eq!((lines.len(), files), (2, 2));
    assert_eq!(std::fs::metadata(&path).expect("current").len(), 0);
    sink.record(record(2)).expect("record");
    w.close().await.expect("close");
    let (lines, _) = all_lines(&path);
    assert_eq!(call_ids(&lines), expected(3));
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn full_queue_spills_without_loss_or_reordering() {
    let d = dir("spill");
    let path = d.join("cdr.jsonl");
    let cfg = CdrConfig {
        queue: 4,
        ..CdrConfig::new(&path)
    };
    let counters = cfg.counters.clone();
    let w = CdrWriter::start(cfg).expect("start");
    let sink = w.sink();
    const N: usize = 2000;
    // No await in the loop: the writer cannot run, so the queue of 4 overflows.
    for i in 0..N {
        sink.record(record(i)).expect("record");
    }
    assert!(counters.spilled.get() > 0);
    w.close().await.expect("close");
    // Offered after the writer finished: handed back, not lost silently.
    let back = sink.record(record(N)).expect_err("closed");
    assert_eq!(back.0.call_id, format!("call-{N}"));
    let (lines, files) = all_lines(&path);
    assert_eq!(files, 1);
    assert_eq!(call_ids(&lines), expected(N));
    assert_eq!(counters.written.get(), N as u64);
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_producers_and_implicit_shutdown() {
    let d = dir("concurrent");
    let path = d.join("cdr.jsonl");
    let cfg = CdrConfig {
        queue: 16,
        rotate_bytes: Some(64 * 1024),
        ..CdrConfig::new(&path)
    };
    let w = CdrWriter::start(cfg).expect("start");
    let mut tasks = Vec::new();
    for p in 0..4 {
        let sink = w.sink();
        tasks.push(tokio::spawn(async move {
            for i in 0..500 {
                let idx = p * 500 + i;
                if idx % 2 == 0 {
                    sink.record(record(idx)).expect("record");
                } else {
                    sink.send(record(idx)).await.expect("send");
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("producer");
    }
    // No close: dropping the writer and every sink still drains and syncs.
    drop(w);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let lines = loop {
        // The writer drains after the drop: rotations may still rename files under us.
        if let Some((lines, _)) = try_all_lines(&path) {
            if lines.len() >= 2000 || std::time::Instant::now() > deadline {
                break lines;
            }
        } else if std::time::Instant::now() > deadline {
            break all_lines(&path).0;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut ids = call_ids(&lines);
    ids.sort();
    let mut want = expected(2000);
    want.sort();
    assert_eq!(ids, want);
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn torn_tail_is_terminated_before_appending() {
    let d = dir("torn");
    let path = d.join("cdr.jsonl");
    std::fs::write(&path, "{\"call_id\":\"old\"}\n{\"call_id\":\"tor").expect("seed");
    let w = CdrWriter::start(CdrConfig::new(&path)).expect("start");
    w.sink().send(record(0)).await.expect("send");
    w.close().await.expect("close");
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(serde_json::from_str::<serde_json::Value>(lines[1]).is_err());
    let v: serde_json::Value = serde_json::from_str(lines[2]).expect("json");
    assert_eq!(v["call_id"], "call-0");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn utc_conversion_known_values() {
    let s = |ms: i64| UtcMillis(ms).to_string();
    assert_eq!(s(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(s(1_795_321_800_123), "2026-11-22T04:30:00.123Z");
    assert_eq!(s(951_782_400_000), "2000-02-29T00:00:00.000Z"); // 400-year leap
    assert_eq!(s(68_255_999_999), "1972-02-29T23:59:59.999Z");
    assert_eq!(s(4_107_542_400_000), "2100-03-01T00:00:00.000Z"); // 2100 is not leap
    assert_eq!(s(4_107_542_400_000 - 1), "2100-02-28T23:59:59.999Z");
    assert_eq!(s(1_735_646_400_000), "2024-12-31T12:00:00.000Z"); // day 366
    assert_eq!(s(-1), "1969-12-31T23:59:59.999Z");
    assert_eq!(s(-2_203_891_200_000), "1900-03-01T00:00:00.000Z");
    assert_eq!(s(-2_203_891_200_001), "1900-02-28T23:59:59.999Z"); // 1900 is not leap
    assert_eq!(
        UtcMillis(1_795_321_800_123).compact(),
        "20261122T043000.123Z"
    );

    let t = UNIX_EPOCH + Duration::from_nanos(1_795_321_800_123_999_999);
    assert_eq!(UtcMillis::from_system_time(t), UtcMillis(1_795_321_800_123));
    let before = UNIX_EPOCH - Duration::from_micros(500);
    assert_eq!(UtcMillis::from_system_time(before), UtcMillis(-1));
    let json = serde_json::to_string(&UtcMillis(1_795_321_800_123)).expect("json");
    assert_eq!(json, "\"2026-11-22T04:30:00.123Z\"");
}

#[tokio::test]
async fn follows_a_moved_or_deleted_file() {
    let d = dir("moved");
    let path = d.join("cdr.jsonl");
    let w = CdrWriter::start(CdrConfig::new(&path)).expect("start");
    let sink = w.sink();
    for i in 0..3 {
        sink.send(record(i)).await.expect("send");
    }
    let wait_for = |p: PathBuf, n: usize| async move {
        for _ in 0..200 {
            if std::fs::read_to_string(&p).is_ok_and(|t| t.lines().count() >= n) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} never had {n} lines", p.display());
    };
    wait_for(path.clone(), 3).await;
    // An operator moves the file away: what was written goes with it, the rest is new.
    let moved = d.join("moved.jsonl");
    std::fs::rename(&path, &moved).expect("move");
    for i in 3..6 {
        sink.send(record(i)).await.expect("send");
    }
    wait_for(path.clone(), 3).await;
    // Even the whole directory disappears.
    std::fs::remove_dir_all(&d).expect("rm");
    for i in 6..9 {
        sink.send(record(i)).await.expect("send");
    }
    w.close().await.expect("close");
    let text = std::fs::read_to_string(&path).expect("recreated");
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(call_ids(&lines), ["call-6", "call-7", "call-8"]);
    let _ = std::fs::remove_dir_all(&d);
}

/// Writes fail (ENOSPC from /dev/full) until the operator fixes the path: the errors are
/// counted, nothing is dropped, and the records land once writing works again.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn write_errors_are_retried_without_loss() {
    let d = dir("enospc");
    let path = d.join("cdr.jsonl");
    std::os::unix::fs::symlink("/dev/full", &path).expect("symlink");
    let cfg = CdrConfig {
        rotate_bytes: None,
        rotate_interval: None,
        ..CdrConfig::new(&path)
    };
    let counters = cfg.counters.clone();
    let w = CdrWriter::start(cfg).expect("start");
    let sink = w.sink();
    for i in 0..3 {
        sink.send(record(i)).await.expect("send");
    }
    for _ in 0..200 {
        if counters.write_errors.get() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(counters.write_errors.get() >= 1);
    assert_eq!(counters.written.get(), 0);
    std::fs::remove_file(&path).expect("unlink symlink");
    sink.send(record(3)).await.expect("send");
    w.close().await.expect("close");
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(call_ids(&lines), expected(4));
    assert_eq!(counters.written.get(), 4);
    let _ = std::fs::remove_dir_all(&d);
}
