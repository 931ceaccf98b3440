//! Call detail records: one JSON line per call attempt, written durably and without gaps
//! (architecture principle 14).
//!
//! ```text
//!   shards ──CdrSink::record()──▶ bounded mpsc ──▶ writer task ──spawn_blocking──▶ file
//!              │ queue full                           ▲   (write, fsync in batches, rotate)
//!              └──────────────▶ spill (FIFO) ─────────┘
//! ```
//!
//! # Policy: no record is ever dropped
//!
//! * [`CdrSink::record`] never blocks and never drops. It hands the record to the bounded
//!   queue; when the queue is full it appends it to a spill list that the writer drains after
//!   the queue (counted in [`CdrCounters::spilled`]). While the spill list is non-empty new
//!   records go there too, so the order of records from one producer is kept. Memory is the
//!   only thing that grows while the disk is slow or failing; that growth is visible in the
//!   counters.
//! * [`CdrSink::send`] is the back-pressure variant: it waits for room in the queue.
//! * Write and fsync errors are counted ([`CdrCounters::write_errors`]) and retried with a
//!   back-off; unwritten bytes are kept, and a partially written line is completed on retry,
//!   so a line is never torn or duplicated by a retry.
//! * Lines are written to the file after every batch taken from the queue (so a process
//!   crash loses nothing already dequeued) and `sync_data` runs after `fsync_batch` records or
//!   `fsync_interval` after the first unsynced record, whichever comes first.
//! * Rotation renames the current file to `<path>.<UTC stamp>` (e.g.
//!   `cdr.jsonl.20261122T043000.123Z`, with `.1`, `.2`… if that name exists), after syncing
//!   it, opens a fresh file and syncs the directory. It happens before a line that would take
//!   the file past `rotate_bytes`, and when a non-empty file is older than `rotate_interval`.
//! * Shutdown: [`CdrWriter::close`] (or every sender dropped) stops intake, drains the queue
//!   and the spill list, writes and syncs everything, then returns. A record offered after
//!   that is handed back to its caller as [`CdrClosed`] rather than silently lost. If the disk
//!   still refuses after several retries at shutdown, the unwritten lines are logged at error
//!   level (the last durable place left) and `close` returns the error.
//! * At start, a file whose last line was torn by a crash gets a newline first, so the
//!   records appended after it stay valid.
//! * If someone else moves or deletes the current file, the writer notices before its next
//!   batch (inode check), syncs the old file and reopens `path` (creating the directory if
//!   needed), so later records do not disappear into an unlinked file. Rotate with this
//!   writer, not with logrotate.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use serde::{Serialize, Serializer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// A UTC instant with millisecond precision, serialized as RFC 3339
/// (`2026-11-22T04:30:00.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcMillis(pub i64);

impl UtcMillis {
    /// The current wall-clock time.
    pub fn now() -> UtcMillis {
        UtcMillis::from_system_time(SystemTime::now())
    }

    /// Converts a [`SystemTime`] (truncated to the millisecond; times before 1970 are allowed).
    pub fn from_system_time(t: SystemTime) -> UtcMillis {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => UtcMillis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Err(e) => {
                let d = e.duration();
                // Round towards minus infinity so that -0.5 ms is -1 ms, not 0.
                let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
                let extra = i64::from(d.subsec_nanos() % 1_000_000 != 0);
                UtcMillis(-ms - extra)
            }
        }
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Milliseconds from `self` to `later`, 0 if `later` is earlier.
    pub fn millis_until(self, later: UtcMillis) -> u64 {
        u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0)
    }

    /// The civil (proleptic Gregorian) date and time:
    /// `(year, month, day, hour, minute, second, millisecond)`.
    pub fn civil(self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let days = self.0.div_euclid(86_400_000);
        let ms_of_day = self.0.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        // rem_euclid keeps these within 0..86_400_000, so the casts cannot truncate.
        let ms_of_day = ms_of_day as u32;
        let secs = ms_of_day / 1000;
        (
            y,
            m,
            d,
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            ms_of_day % 1000,
        )
    }

    /// The compact form used in rotated file names: `20261122T043000.123Z`.
    pub fn compact(self) -> String {
        let (y, mo, d, h, mi, s, ms) = self.civil();
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}.{ms:03}Z")
    }
}

impl fmt::Display for UtcMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s, ms) = self.civil();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }
}

impl Serialize for UtcMillis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<SystemTime> for UtcMillis {
    fn from(t: SystemTime) -> Self {
        UtcMillis::from_system_time(t)
    }
}

/// Days since 1970-01-01 to `(year, month 1..=12, day 1..=31)` in the proleptic Gregorian
/// calendar (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // shift the epoch to 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year (March-based), 0..=365
    let mp = (5 * doy + 2) / 153; // month, March = 0
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is 1..=31 and m 1..=12 by construction.
    (y, m as u32, d as u32)
}

/// `(year, month, day)` to days since 1970-01-01 (the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------------------------
// The record
// ---------------------------------------------------------------------------------------------

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// The calling party (BYE or CANCEL from the A side).
    Caller,
    /// The called party (BYE or a final failure from the B side).
    Callee,
    /// The SBC itself (policy, admission, drain, failover exhausted).
    Sbc,
    /// A timer (no answer, session timer, transaction timeout).
    Timeout,
}

/// One call attempt. Serialized as one JSON object per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CdrRecord {
    /// The node that handled the call.
    pub node: String,
    /// The A-side Call-ID.
    pub call_id: String,
    /// The tenant, when the call matched one.
    pub tenant: Option<String>,
    /// The trunk the INVITE came in on.
    pub trunk_in: String,
    /// The trunk it was sent out on (none if it never left).
    pub trunk_out: Option<String>,
    /// The calling number (E.164) or user part.
    pub calling: String,
    /// The called number (E.164) or user part.
    pub called: String,
    /// When the INVITE arrived.
    pub invite_at: UtcMillis,
    /// The first 18x sent towards the caller.
    pub first_18x_at: Option<UtcMillis>,
    /// The 2xx sent towards the caller.
    pub answer_at: Option<UtcMillis>,
    /// When the call (or the attempt) ended.
    pub end_at: UtcMillis,
    /// Answer to end in milliseconds; 0 if unanswered.
    pub duration_ms: u64,
    /// INVITE to the first 18x or the answer, whichever came first; `null` when neither came
    /// (0 would read as an instant setup and skew post-dial-delay averages).
    pub setup_delay_ms: Option<u64>,
    /// The final status sent to the caller (200 for answered calls).
    pub final_status: u16,
    /// The Q.850 cause (from a `Reason` header or mapped from the status), if known.
    pub q850_cause: Option<u16>,
    /// Who ended the call.
    pub ended_by: EndedBy,
    /// An emergency call.
    pub emergency: bool,
}

impl CdrRecord {
    /// Sets `duration_ms` and `setup_delay_ms` from the timestamps.
    pub fn fill_durations(&mut self) {
        self.duration_ms = self
            .answer_at
            .map_or(0, |a| a.millis_until(self.end_at.max(a)));
        let first = match (self.first_18x_at, self.answer_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.setup_delay_ms = first.map(|t| self.invite_at.millis_until(t));
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration and counters
// ---------------------------------------------------------------------------------------------

/// Counters the writer updates; share them with [`crate::metrics::Metrics`] by cloning its
/// `cdr` field into [`CdrConfig::counters`].
#[derive(Debug, Clone, Default)]
pub struct CdrCounters {
    /// Records written to the file (not necessarily synced yet).
    pub written: Counter,
    /// Failed writes, syncs, opens or rotations (each is retried).
    pub write_errors: Counter,
    /// Records that found the queue full and went to the spill list.
    pub spilled: Counter,
    /// Files rotated.
    pub rotations: Counter,
}

/// Where and how CDRs are written.
#[derive(Debug, Clone)]
pub struct CdrConfig {
    /// The current file; rotated files are `<path>.<UTC stamp>` beside it.
    pub path: PathBuf,
    /// Rotate before a line would take the file past this size (`None`: never by size).
    pub rotate_bytes: Option<u64>,
    /// Rotate a non-empty file this long after it was opened (`None`: never by time).
    pub rotate_interval: Option<Duration>,
    /// Longest time a written record waits for `sync_data`.
    pub fsync_interval: Duration,
    /// Sync after this many written records, even before `fsync_interval`.
    pub fsync_batch: usize,
    /// Capacity of the queue in front of the writer.
    pub queue: usize,
    /// Counters updated by the writer.
    pub counters: CdrCounters,
}

impl CdrConfig {
    /// Defaults: rotate at 64 MiB or hourly, sync within 1 s or every 256 records, queue of
    /// 16384 records.
    pub fn new(path: impl Into<PathBuf>) -> CdrConfig {
        CdrConfig {
            path: path.into(),
            rotate_bytes: Some(64 << 20),
            rotate_interval: Some(Duration::from_secs(3600)),
            fsync_interval: Duration::from_secs(1),
            fsync_batch: 256,
            queue: 16_384,
            counters: CdrCounters::default(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sink (producer side)
// ---------------------------------------------------------------------------------------------

enum Msg {
    Record(Box<CdrRecord>),
    Close,
}

#[derive(Default)]
struct Spill {
    records: VecDeque<Box<CdrRecord>>,
    /// Set by the writer after its final drain; later records are handed back.
    closed: bool,
}

struct Shared {
    spill: Mutex<Spill>,
    counters: CdrCounters,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Spill> {
        // A poisoned lock only means another thread panicked while holding it; the list
        // itself is still consistent (push/drain do not panic midway).
        self.spill.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A record offered after the writer finished; the caller gets it back.
#[derive(Debug)]
pub struct CdrClosed(pub Box<CdrRecord>);

impl fmt::Display for CdrClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CDR writer closed (call {})", self.0.call_id)
    }
}

impl std::error::Error for CdrClosed {}

/// The producer side: cheap to clone, one per shard.
#[derive(Clone)]
pub struct CdrSink {
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
}

impl fmt::Debug for CdrSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CdrSink")
            .field("capacity", &self.tx.capacity())
            .finish_non_exhaustive()
    }
}

impl CdrSink {
    /// Queues a record without waiting (never drops it; see the module docs).
    pub fn record(&self, rec: CdrRecord) -> Result<(), CdrClosed> {
        let rec = Box::new(rec);
        let mut spill = self.shared.lock();
        if spill.closed {
            return Err(CdrClosed(rec));
        }
        if !spill.records.is_empty() {
            spill.records.push_back(rec);
            self.shared.counters.spilled.inc();
            return Ok(());
        }
        match self.tx.try_send(Msg::Record(rec)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(Msg::Record(rec)))
            | Err(mpsc::error::TrySendError::Closed(Msg::Record(rec))) => {
                // Closed but not yet `spill.closed`: the writer is draining and will take it.
                spill.records.push_back(rec);
                self.shared.counters.spilled.inc();
                Ok(())
            }
            Err(_) => Ok(()), // only records are sent through this path
        }
    }

    /// Queues a record, waiting for room in the queue (back-pressure).
    pub async fn send(&self, rec: CdrRecord) -> Result<(), CdrClosed> {
        let rec = Box::new(rec);
        {
            let mut spill = self.shared.lock();
            if spill.closed {
                return Err(CdrClosed(rec));
            }
            if !spill.records.is_empty() {
                spill.records.push_back(rec);
                self.shared.counters.spilled.inc();
                return Ok(());
            }
        }
        match self.tx.send(Msg::Record(rec)).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(Msg::Record(rec))) => {
                let mut spill = self.shared.lock();
                if spill.closed {
                    return Err(CdrClosed(rec));
                }
                spill.records.push_back(rec);
                self.shared.counters.spilled.inc();
                Ok(())
            }
            Err(_) => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// The running writer. Dropping it without [`CdrWriter::close`] is allowed: the task still
/// drains and syncs once every [`CdrSink`] is gone.
pub struct CdrWriter {
    sink: CdrSink,
    task: JoinHandle<io::Result<()>>,
}

impl fmt::Debug for CdrWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CdrWriter").finish_non_exhaustive()
    }
}

impl CdrWriter {
    /// Opens (or appends to) the file and spawns the writer task on the current tokio
    /// runtime. Fails if the file cannot be opened, so a bad path is reported at startup.
    pub fn start(cfg: CdrConfig) -> io::Result<CdrWriter> {
        let spool = Spool::open(&cfg)?;
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let shared = Arc::new(Shared {
            spill: Mutex::new(Spill::default()),
            counters: cfg.counters.clone(),
        });
        let task = tokio::spawn(run(rx, shared.clone(), spool, cfg));
        Ok(CdrWriter {
            sink: CdrSink { tx, shared },
            task,
        })
    }

    /// A producer handle.
    pub fn sink(&self) -> CdrSink {
        self.sink.clone()
    }

    /// Stops intake, writes and syncs every queued record, and waits for the task.
    /// Records offered afterwards come back as [`CdrClosed`].
    pub async fn close(self) -> io::Result<()> {
        let CdrWriter { sink, task } = self;
        let _ = sink.tx.send(Msg::Close).await;
        drop(sink);
        match task.await {
            Ok(r) => r,
            Err(e) => Err(io::Error::other(format!("CDR writer task failed: {e}"))),
        }
    }
}

/// The file state; moved into `spawn_blocking` for every batch of I/O.
struct Spool {
    path: PathBuf,
    rotate_bytes: Option<u64>,
    rotate_interval: Option<Duration>,
    fsync_interval: Duration,
    fsync_batch: u64,
    counters: CdrCounters,
    /// `None` after a rename whose reopen failed (retried).
    file: Option<File>,
    /// Size of the current file.
    bytes: u64,
    opened: Instant,
    /// Serialized lines not yet staged.
    queue: VecDeque<Vec<u8>>,
    /// Lines being written to the current file, and how much of them is written.
    staged: Vec<u8>,
    staged_off: usize,
    staged_records: u64,
    /// Records written since the last sync, and when the first of them was written.
    unsynced: u64,
    first_unsynced: Option<Instant>,
}

fn open_file(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true).read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o640);
    }
    o.open(path)
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// `<path>.<stamp>`, or `<path>.<stamp>.<n>` if taken.
fn rotated_name(path: &Path, now: UtcMillis) -> PathBuf {
    let base = format!("{}.{}", path.display(), now.compact());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1u32;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}.{n}"));
        n += 1;
    }
    candidate
}

impl Spool {
    fn open(cfg: &CdrConfig) -> io::Result<Spool> {
        if let Some(dir) = cfg.path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let mut file = open_file(&cfg.path)?;
        let mut bytes = file.metadata()?.len();
        if bytes > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                tracing::warn!(path = %cfg.path.display(), "CDR file ends in a torn line; terminating it");
                file.write_all(b"\n")?;
                file.sync_data()?;
                bytes += 1;
            }
        }
        Ok(Spool {
            path: cfg.path.clone(),
            rotate_bytes: cfg.rotate_bytes.filter(|&b| b > 0),
            rotate_interval: cfg.rotate_interval.filter(|d| !d.is_zero()),
            fsync_interval: cfg.fsync_interval,
            fsync_batch: cfg.fsync_batch.max(1) as u64,
            counters: cfg.counters.clone(),
            file: Some(file),
            bytes,
            opened: Instant::now(),
            queue: VecDeque::new(),
            staged: Vec::new(),
            staged_off: 0,
            staged_records: 0,
            unsynced: 0,
            first_unsynced: None,
        })
    }

    fn push(&mut self, rec: &CdrRecord) {
        match serde_json::to_vec(rec) {
            Ok(mut line) => {
                line.push(b'\n');
                self.queue.push_back(line);
            }
            // Cannot happen for this type (string keys only); keep the record in the log.
            Err(e) => {
                self.counters.write_errors.inc();
                tracing::error!(error = %e, record = ?rec, "CDR could not be serialized");
            }
        }
    }

    /// Nothing left to write or sync.
    fn idle(&self) -> bool {
        self.queue.is_empty() && self.staged.is_empty() && self.unsynced == 0
    }

    /// When the writer must wake up without new input.
    fn deadline(&self) -> Option<Instant> {
        let sync = self.first_unsynced.map(|t| t + self.fsync_interval);
        let rotate = match self.rotate_interval {
            Some(i) if self.bytes > 0 => Some(self.opened + i),
            _ => None,
        };
        match (sync, rotate) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn file(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            self.file = Some(open_file(&self.path)?);
            self.bytes = 0;
            self.opened = Instant::now();
            sync_dir(&self.path)?;
        }
        // Set just above.
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("CDR file not open"))
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.unsynced > 0 {
            self.file()?.sync_data()?;
            self.unsynced = 0;
            self.first_unsynced = None;
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.sync()?;
        if self.file.is_some() {
            let target = rotated_name(&self.path, UtcMillis::now());
            match std::fs::rename(&self.path, &target) {
                Ok(()) => {
                    self.counters.rotations.inc();
                    tracing::info!(to = %target.display(), "CDR file rotated");
                }
                // Moved or deleted behind our back: what we wrote went with it; start anew.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    tracing::warn!(path = %self.path.display(), "CDR file vanished before rotation");
                }
                Err(e) => return Err(e),
            }
            self.file = None;
        }
        self.file()?;
        Ok(())
    }

    /// If the file at `path` is no longer the one we write (moved or deleted by someone
    /// else), syncs the old one and reopens `path`, so new records do not go to a file
    /// nobody will read.
    fn follow_path(&mut self) -> io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let Some(file) = &self.file else {
                return Ok(());
            };
            let ours = file.metadata()?;
            let same = match std::fs::metadata(&self.path) {
                Ok(m) => m.dev() == ours.dev() && m.ino() == ours.ino(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => return Err(e),
            };
            if !same {
                tracing::warn!(path = %self.path.display(), "CDR file was moved or deleted; reopening");
                self.sync()?;
                self.file = None;
            }
        }
        Ok(())
    }

    /// Writes what is staged and queued (rotating on the way), then syncs if due. On error,
    /// everything not yet written stays for the next call.
    fn pump(&mut self, force_sync: bool) -> io::Result<()> {
        // Not in the middle of a line: a partly written chunk is finished where it started.
        if self.staged_off == 0 {
            self.follow_path()?;
        }
        self.file()?;
        if self.staged.is_empty() {
            if let Some(i) = self.rotate_interval {
                if self.opened.elapsed() >= i {
                    if self.bytes > 0 {
                        self.rotate()?;
                    } else {
                        self.opened = Instant::now(); // no empty files
                    }
                }
            }
        }
        loop {
            while self.staged_off < self.staged.len() {
                let off = self.staged_off;
                self.file()?;
                let Some(file) = self.file.as_mut() else {
                    return Err(io::Error::other("CDR file not open"));
                };
                let n = file.write(&self.staged[off..])?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                self.staged_off += n;
                self.bytes += n as u64;
            }
            if self.staged_records > 0 {
                self.counters.written.inc_by(self.staged_records);
                self.unsynced += self.staged_records;
                self.first_unsynced.get_or_insert_with(Instant::now);
            }
            self.staged.clear();
            self.staged_off = 0;
            self.staged_records = 0;
            let Some(next) = self.queue.front() else {
                break;
            };
            let limit = self.rotate_bytes.unwrap_or(u64::MAX);
            if self.bytes > 0 && self.bytes + next.len() as u64 > limit {
                self.rotate()?;
            }
            // Stage the lines that fit (at least one, even if longer than the limit).
            while let Some(line) = self.queue.front() {
                let after = self.bytes + (self.staged.len() + line.len()) as u64;
                if self.staged_records > 0 && after > limit {
                    break;
                }
                self.staged.extend_from_slice(line);
                self.staged_records += 1;
                self.queue.pop_front();
            }
            if self.unsynced >= self.fsync_batch {
                self.sync()?;
            }
        }
        let late = self
            .first_unsynced
            .is_some_and(|t| t.elapsed() >= self.fsync_interval);
        if force_sync || late || self.unsynced >= self.fsync_batch {
            self.sync()?;
        }
        Ok(())
    }

    /// Logs every line not yet written (last resort when the disk refuses at shutdown).
    fn dump_unwritten(&self) {
        let staged = &self.staged[self.staged_off..];
        for line in staged
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .chain(self.queue.iter().map(|l| &l[..l.len().saturating_sub(1)]))
        {
            tracing::error!(cdr = %String::from_utf8_lossy(line), "CDR not written");
        }
    }
}

const BATCH: usize = 1024;
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
const FINAL_ATTEMPTS: u32 = 8;

async fn run(
    mut rx: mpsc::Receiver<Msg>,
    shared: Arc<Shared>,
    mut spool: Spool,
    cfg: CdrConfig,
) -> io::Result<()> {
    let high_water = cfg.queue.max(BATCH);
    let mut rx_open = true;
    let mut backoff = RETRY_MIN;
    let mut retry_at: Option<Instant> = None;
    let mut final_failures = 0u32;
    loop {
        // 1. Wait for input or a deadline.
        let wake = match (retry_at, spool.deadline()) {
            (Some(r), _) => Some(r),
            (None, d) => d,
        };
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending().await,
            }
        };
        let mut channel_empty = false;
        if rx_open && spool.queue.len() < high_water {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => handle(m, &mut rx, &mut spool),
                    None => { rx_open = false; channel_empty = true; }
                },
                () = sleep => {}
            }
            // Take what else is there without waiting.
            while rx_open && spool.queue.len() < high_water {
                match rx.try_recv() {
                    Ok(m) => handle(m, &mut rx, &mut spool),
                    Err(mpsc::error::TryRecvError::Empty) => {
                        channel_empty = true;
                        break;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        rx_open = false;
                        channel_empty = true;
                    }
                }
            }
        } else {
            // Backlogged behind a failing disk, or closing: wait only for a pending retry.
            if retry_at.is_some() {
                sleep.await;
            }
            channel_empty = !rx_open;
        }

        // 2. The spill list holds records newer than everything in the channel: take it only
        //    once the channel is empty. After the channel closed, mark it closed atomically
        //    with the final take so no record can slip in between.
        if channel_empty {
            let mut spill = shared.lock();
            if !rx_open {
                spill.closed = true;
            }
            while let Some(r) = spill.records.pop_front() {
                spool.push(&r);
            }
        }

        // 3. I/O, off the async workers.
        let retry_due = retry_at.is_none_or(|t| Instant::now() >= t);
        let due = spool.deadline().is_some_and(|t| Instant::now() >= t);
        if retry_due && (!spool.queue.is_empty() || !spool.staged.is_empty() || due || !rx_open) {
            let force = !rx_open;
            let (back, res) = tokio::task::spawn_blocking(move || {
                let r = spool.pump(force);
                (spool, r)
            })
            .await
            .map_err(|e| io::Error::other(format!("CDR I/O task failed: {e}")))?;
            spool = back;
            match res {
                Ok(()) => {
                    retry_at = None;
                    backoff = RETRY_MIN;
                }
                Err(e) => {
                    shared.counters.write_errors.inc();
                    tracing::warn!(error = %e, path = %spool.path.display(), "CDR write failed; retrying");
                    if !rx_open {
                        final_failures += 1;
                        if final_failures >= FINAL_ATTEMPTS {
                            spool.dump_unwritten();
                            return Err(e);
                        }
                    }
                    retry_at = Some(Instant::now() + backoff);
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
            }
        }
        if !rx_open && retry_at.is_none() && spool.idle() {
            return Ok(());
        }
    }
}

fn handle(m: Msg, rx: &mut mpsc::Receiver<Msg>, spool: &mut Spool) {
    match m {
        Msg::Record(r) => spool.push(&r),
        // Refuse new sends; what is buffered is still received, then `recv` gives `None`.
        Msg::Close => rx.close(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-719_468i64, -1, 0, 1, 59, 365, 10_957, 20_779, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn durations() {
        let mut r = CdrRecord {
            node: "n".into(),
            call_id: "c".into(),
            tenant: None,
            trunk_in: "a".into(),
            trunk_out: None,
            calling: "+1".into(),
            called: "+2".into(),
            invite_at: UtcMillis(1_000),
            first_18x_at: Some(UtcMillis(1_250)),
            answer_at: Some(UtcMillis(3_000)),
            end_at: UtcMillis(63_000),
            duration_ms: 7,
            setup_delay_ms: None,
            final_status: 200,
            q850_cause: Some(16),
            ended_by: EndedBy::Caller,
            emergency: false,
        };
        r.fill_durations();
        assert_eq!((r.duration_ms, r.setup_delay_ms), (60_000, Some(250)));
        r.first_18x_at = None;
        r.answer_at = None;
        r.fill_durations();
        assert_eq!((r.duration_ms, r.setup_delay_ms), (0, None));
    }
}
