//! SIPp call scenarios (`tests/sipp/uac_*.xml` callers, `uas_*.xml` gateways, `standin_*.xml`
//! stand-ins for the middle box), run two ways:
//!
//! * `direct_*`: the caller straight against the gateway, nobody in between. This proves the
//!   scenarios themselves are right, and is the SIPp-to-SIPp ceiling the benchmarks compare
//!   against. Where a pair only makes sense with a middle box (session expiry, failover,
//!   overload, the SBC's no-answer timer, glare as the SBC resolves it), the middle box's half
//!   is played by a `standin_*.xml` scenario, so every branch of every scenario runs here.
//! * `via_sbcd_*`: the same pairs through a real `sbcd` routing its lab listener to the
//!   gateway(s), configured by [`lab_config`]. They also check topology hiding on the bytes
//!   each side received (no Call-ID, Contact, tag, Via branch or address of one side reaches
//!   the other: see the markers in `tests/sipp/uac_basic.xml` and `uas_basic.xml`).
//!
//! Every run is bounded (`-m`, `-timeout` with `-timeout_error`, deadlines on background
//! gateways) and uses its own free ports; SIPp is Debian's `sip-tester` (UDP here).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{
    a_side_markers, b_side_markers, free_ports, leaks, loopback, run_pair, Sbcd, Sipp, SippRun,
    TempDir,
};

// -------------------------------------------------------------------------------------------
// The sbcd configuration of the via-sbcd tests. Everything that depends on the configuration
// format is in this section.
// -------------------------------------------------------------------------------------------

/// The lab listener the callers send to.
const LAB: &str = "lab-udp";

/// An sbcd configuration with one UDP listener, `LAB`, on loopback; every call from loopback
/// goes to `gateways` (UDP), tried in this order (serial failover on 408/503/504/timeout);
/// plus `extra` (tables from the helpers below).
fn lab_config(gateways: &[SocketAddr], extra: &str) -> String {
    let [port] = free_ports::<1>();
    let mut s = format!(
        "version = 1\n\n\
         [node]\nname = \"sipp-calls\"\nproduct = \"sbc/sbcd/test\"\n\n\
         [[listener]]\nname = \"{LAB}\"\nzone = \"lab\"\ntransport = \"udp\"\n\
         bind = \"127.0.0.1:{port}\"\nallow = [\"127.0.0.0/8\"]\n\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n\n"
    );
    let mut names = Vec::new();
    for (i, gw) in gateways.iter().enumerate() {
        let name = format!("gw{}", i + 1);
        s +=
            &format!("[[gateway]]\nname = \"{name}\"\naddress = \"{gw}\"\ntransport = \"udp\"\n\n");
        names.push(format!("\"{name}\""));
    }
    s += &format!(
        "[[route]]\nname = \"lab-out\"\nfrom = [\"127.0.0.0/8\"]\ngateways = [{}]\n\n",
        names.join(", ")
    );
    s + extra
}

/// At most `n` calls in progress, node-wide (the shards share the counters); beyond that,
/// 503 with Retry-After.
fn limit_extra(n: u32) -> String {
    format!("[calls]\nmax_calls = {n}\n")
}

/// Ringing without an answer for `secs`: CANCEL the gateway, answer the caller 480.
fn no_answer_extra(secs: u32) -> String {
    format!("[calls]\nno_answer_timeout_s = {secs}\n")
}

/// RFC 4028 session timers on, Min-SE 90 s (the callers ask for 90 s).
fn session_timer_extra() -> String {
    "[calls]\nsession_expires_s = 1800\nmin_se_s = 90\n".to_owned()
}

/// T1 = 100 ms, so Timer B (64*T1) gives up on a silent gateway after 6.4 s instead of 32 s.
fn fast_failover_extra() -> String {
    "[sip]\nt1_ms = 100\n".to_owned()
}

// -------------------------------------------------------------------------------------------

fn start_lab(dir: &TempDir, gateways: &[SocketAddr], extra: &str) -> Sbcd {
    let cfg = dir.file("sbcd.toml", lab_config(gateways, extra).as_bytes());
    Sbcd::start(&cfg)
}

/// Nothing of the caller's dialog reached the gateway and nothing of the gateway's reached
/// the caller.
fn assert_hidden(uac: &SippRun, uas: &SippRun) {
    let a = leaks(&uas.messages, &a_side_markers(uac));
    assert!(a.is_empty(), "A-side details reached the gateway: {a:#?}");
    let b = leaks(&uac.messages, &b_side_markers(uas));
    assert!(b.is_empty(), "B-side details reached the caller: {b:#?}");
}

/// A pair through sbcd: gateway `uas` (with `uas_calls` calls), caller `uac` built from the
/// SBC's lab address. Returns (caller, gateway) after checking topology hiding.
fn via_pair(
    tag: &str,
    uas: impl FnOnce(&TempDir) -> Sipp,
    extra: &str,
    uac: impl FnOnce(&TempDir, SocketAddr) -> Sipp,
) -> (SippRun, SippRun) {
    let dir = TempDir::new(tag);
    let gw = uas(&dir).spawn();
    let sbcd = start_lab(&dir, &[gw.addr()], extra);
    let caller = uac(&dir, sbcd.addr(LAB)).run();
    let gateway = gw.finish();
    drop(sbcd);
    assert_hidden(&caller, &gateway);
    (caller, gateway)
}

// --- basic call -----------------------------------------------------------------------------

#[test]
fn direct_basic_call() {
    let dir = TempDir::new("basic");
    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_basic.xml").calls(10), |gw| {
        Sipp::uac(&dir, "uac_basic.xml", gw)
            .calls(10)
            .rate(20)
            .pause_ms(200)
    });
    uac.assert_all_ok(10);
    uas.assert_all_ok(10);
    // With nobody in between every A-side marker reaches the gateway, and the B-side ones
    // the caller: the leak check used through sbcd is not vacuous.
    let a = leaks(&uas.messages, &a_side_markers(&uac));
    assert_eq!(a.len(), a_side_markers(&uac).len(), "{a:#?}");
    let b = leaks(&uac.messages, &b_side_markers(&uas));
    assert!(b.len() >= 3, "{b:#?}");
}

#[test]
fn via_sbcd_basic_call() {
    let (uac, uas) = via_pair(
        "via-basic",
        |d| Sipp::uas(d, "uas_basic.xml").calls(10),
        "",
        |d, sbc| {
            Sipp::uac(d, "uac_basic.xml", sbc)
                .calls(10)
                .rate(20)
                .pause_ms(200)
        },
    );
    uac.assert_all_ok(10);
    uas.assert_all_ok(10);
}

// --- callee hangs up ------------------------------------------------------------------------

#[test]
fn direct_callee_hangs_up() {
    let dir = TempDir::new("callee-bye");
    let (uac, uas) = run_pair(
        Sipp::uas(&dir, "uas_callee_bye.xml").calls(5).pause_ms(300),
        |gw| Sipp::uac(&dir, "uac_callee_bye.xml", gw).calls(5).rate(20),
    );
    uac.assert_all_ok(5);
    uas.assert_all_ok(5);
    assert_eq!(uac.received_count("BYE "), 5);
}

#[test]
fn via_sbcd_callee_hangs_up() {
    let (uac, uas) = via_pair(
        "via-callee-bye",
        |d| Sipp::uas(d, "uas_callee_bye.xml").calls(5).pause_ms(300),
        "",
        |d, sbc| Sipp::uac(d, "uac_callee_bye.xml", sbc).calls(5).rate(20),
    );
    uac.assert_all_ok(5);
    uas.assert_all_ok(5);
    assert_eq!(uac.sent_count("BYE "), 0);
}

// --- CANCEL while ringing -------------------------------------------------------------------

#[test]
fn direct_cancel_while_ringing() {
    let dir = TempDir::new("cancel");
    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_ringing.xml").calls(5), |gw| {
        Sipp::uac(&dir, "uac_cancel.xml", gw).calls(5).rate(20)
    });
    uac.assert_all_ok(5);
    uas.assert_all_ok(5);
}

#[test]
fn via_sbcd_cancel_while_ringing() {
    let (uac, uas) = via_pair(
        "via-cancel",
        |d| Sipp::uas(d, "uas_ringing.xml").calls(5),
        "",
        |d, sbc| Sipp::uac(d, "uac_cancel.xml", sbc).calls(5).rate(20),
    );
    uac.assert_all_ok(5);
    uas.assert_all_ok(5);
    assert!(uac.received_count("SIP/2.0 487") >= 5);
    assert!(uas.received_count("CANCEL ") >= 5);
}

// --- busy -----------------------------------------------------------------------------------

#[test]
fn direct_busy() {
    let dir = TempDir::new("busy");
    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_busy.xml").calls(5), |gw| {
        Sipp::uac(&dir, "uac_busy.xml", gw).calls(5).rate(20)
    });
    uac.assert_all_ok(5);
    uas.assert_all_ok(5);
}

#[test]
fn via_sbcd_busy() {
    let (uac, uas) = via_pair(
        "via-busy",
        |d| Sipp::uas(d, "uas_busy.xml").calls(5),
        "",
        |d, sbc| Sipp::uac(d, "uac_busy.xml", sbc).calls(5).rate(20),
    );
    uac.assert_all_ok(5);
    uas.assert_all_ok(5);
    assert!(uac.received_count("SIP/2.0 486") >= 5);
}

// --- no answer ------------------------------------------------------------------------------

/// Both ways `uac_no_answer.xml` may end: its own timer (CANCEL, 487) against a gateway that
/// rings for ever, and a 480 from a stand-in for the SBC's no-answer timer.
#[test]
fn direct_no_answer() {
    let dir = TempDir::new("no-answer");
    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_ringing.xml").calls(2), |gw| {
        Sipp::uac(&dir, "uac_no_answer.xml", gw).calls(2).rate(20)
    });
    uac.assert_all_ok(2);
    uas.assert_all_ok(2);
    assert_eq!(uac.sent_count("CANCEL "), 2, "our own timer fired");
    assert!(uac.elapsed >= Duration::from_secs(8));

    let (uac, uas) = run_pair(Sipp::uas(&dir, "standin_uas_480.xml").calls(2), |gw| {
        Sipp::uac(&dir, "uac_no_answer.xml", gw).calls(2).rate(20)
    });
    uac.assert_all_ok(2);
    uas.assert_all_ok(2);
    assert_eq!(uac.sent_count("CANCEL "), 0, "the 480 came first");
}

/// sbcd's no-answer timer (2 s) fires long before the caller's (8 s): the gateway gets a
/// CANCEL from sbcd, the caller a 480 and no reason to CANCEL.
#[test]
fn via_sbcd_no_answer() {
    let (uac, uas) = via_pair(
        "via-no-answer",
        |d| Sipp::uas(d, "uas_ringing.xml").calls(2),
        &no_answer_extra(2),
        |d, sbc| Sipp::uac(d, "uac_no_answer.xml", sbc).calls(2).rate(20),
    );
    uac.assert_all_ok(2);
    uas.assert_all_ok(2);
    assert_eq!(uac.sent_count("CANCEL "), 0, "sbcd's timer must fire first");
    assert!(uac.received_count("SIP/2.0 480") + uac.received_count("SIP/2.0 408") >= 2);
    assert!(uas.received_count("CANCEL ") >= 2);
}

// --- early media ----------------------------------------------------------------------------

#[test]
fn direct_early_media() {
    let dir = TempDir::new("early-media");
    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_early_media.xml").calls(5), |gw| {
        Sipp::uac(&dir, "uac_early_media.xml", gw).calls(5).rate(20)
    });
    uac.assert_all_ok(5);
    uas.assert_all_ok(5);
}

#[test]
fn via_sbcd_early_media() {
    let (uac, uas) = via_pair(
        "via-early-media",
        |d| Sipp::uas(d, "uas_early_media.xml").calls(5),
        "",
        |d, sbc| Sipp::uac(d, "uac_early_media.xml", sbc).calls(5).rate(20),
    );
    uac.assert_all_ok(5);
    uas.assert_all_ok(5);
}

// --- two forked 180s ------------------------------------------------------------------------

#[test]
fn direct_forked_180s() {
    let dir = TempDir::new("fork");
    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_fork.xml").calls(5), |gw| {
        Sipp::uac(&dir, "uac_fork.xml", gw).calls(5).rate(20)
    });
    uac.assert_all_ok(5);
    uas.assert_all_ok(5);
}

#[test]
fn via_sbcd_forked_180s() {
    let (uac, uas) = via_pair(
        "via-fork",
        |d| Sipp::uas(d, "uas_fork.xml").calls(5),
        "",
        |d, sbc| Sipp::uac(d, "uac_fork.xml", sbc).calls(5).rate(20),
    );
    uac.assert_all_ok(5);
    uas.assert_all_ok(5);
}

// --- hold / resume both ways ----------------------------------------------------------------

#[test]
fn direct_hold_resume() {
    let dir = TempDir::new("hold");
    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_hold_resume.xml").calls(3), |gw| {
        Sipp::uac(&dir, "uac_hold_resume.xml", gw).calls(3).rate(20)
    });
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
}

#[test]
fn via_sbcd_hold_resume() {
    let (uac, uas) = via_pair(
        "via-hold",
        |d| Sipp::uas(d, "uas_hold_resume.xml").calls(3),
        "",
        |d, sbc| Sipp::uac(d, "uac_hold_resume.xml", sbc).calls(3).rate(20),
    );
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
}

// --- 491 glare ------------------------------------------------------------------------------

/// Directly, the re-INVITEs cross at the caller (it answers the gateway's 491 and gets 491);
/// the stand-in plays what the caller sees through the SBC (only its own 491).
#[test]
fn direct_glare() {
    let dir = TempDir::new("glare");
    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_glare.xml").calls(3), |gw| {
        Sipp::uac(&dir, "uac_glare.xml", gw).calls(3).rate(20)
    });
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
    assert_eq!(uac.sent_count("SIP/2.0 491"), 3);
    assert_eq!(uac.received_count("SIP/2.0 491"), 3);

    let (uac, uas) = run_pair(
        Sipp::uas(&dir, "standin_uas_glare_491_only.xml").calls(3),
        |gw| Sipp::uac(&dir, "uac_glare.xml", gw).calls(3).rate(20),
    );
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
    assert_eq!(uac.sent_count("SIP/2.0 491"), 0);
}

#[test]
fn via_sbcd_glare() {
    let (uac, uas) = via_pair(
        "via-glare",
        |d| Sipp::uas(d, "uas_glare.xml").calls(3),
        "",
        |d, sbc| Sipp::uac(d, "uac_glare.xml", sbc).calls(3).rate(20),
    );
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
    assert!(uac.received_count("SIP/2.0 491") >= 3);
    assert!(uas.received_count("SIP/2.0 491") >= 3);
}

// --- session timers -------------------------------------------------------------------------

/// Refreshes by re-INVITE (the caller's) and by UPDATE (a stand-in refresher) are answered.
#[test]
fn direct_session_refresh() {
    let dir = TempDir::new("st-refresh");
    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_session_timer.xml").calls(3), |gw| {
        Sipp::uac(&dir, "uac_session_refresh.xml", gw)
            .calls(3)
            .rate(20)
            .pause_ms(300)
    });
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
    assert_eq!(
        uas.received_count("INVITE "),
        9,
        "1 INVITE + 2 refreshes per call"
    );

    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_session_timer.xml").calls(3), |gw| {
        Sipp::uac(&dir, "standin_uac_session_update.xml", gw)
            .calls(3)
            .rate(20)
    });
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
    assert_eq!(uas.received_count("UPDATE "), 3);
}

/// 90 s sessions refreshed every 40 s live 120 s: sbcd must not end them at 60 s.
#[test]
fn via_sbcd_session_refresh() {
    let (uac, uas) = via_pair(
        "via-st-refresh",
        |d| {
            Sipp::uas(d, "uas_session_timer.xml")
                .calls(2)
                .timeout_s(220)
        },
        &session_timer_extra(),
        |d, sbc| {
            Sipp::uac(d, "uac_session_refresh.xml", sbc)
                .calls(2)
                .rate(20)
                .pause_ms(40_000)
                .timeout_s(200)
        },
    );
    uac.assert_all_ok(2);
    uas.assert_all_ok(2);
    assert!(uac.elapsed >= Duration::from_secs(115), "{uac}");
}

/// The caller's half against a stand-in that BYEs like sbcd at expiry; the gateway's half
/// (uas_session_timer.xml waiting for a BYE) is what direct_session_refresh runs.
#[test]
fn direct_session_expiry() {
    let dir = TempDir::new("st-expiry");
    let (uac, uas) = run_pair(
        Sipp::uas(&dir, "standin_uas_session_bye.xml")
            .calls(3)
            .pause_ms(500),
        |gw| {
            Sipp::uac(&dir, "uac_session_expiry.xml", gw)
                .calls(3)
                .rate(20)
        },
    );
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
}

/// Nobody refreshes a 90 s session: sbcd BYEs both sides 60 s after the answer
/// (90 - min(32, 90/3), RFC 4028 §10).
#[test]
fn via_sbcd_session_expiry() {
    let (uac, uas) = via_pair(
        "via-st-expiry",
        |d| {
            Sipp::uas(d, "uas_session_timer.xml")
                .calls(1)
                .timeout_s(220)
        },
        &session_timer_extra(),
        |d, sbc| {
            Sipp::uac(d, "uac_session_expiry.xml", sbc)
                .calls(1)
                .timeout_s(200)
        },
    );
    uac.assert_all_ok(1);
    uas.assert_all_ok(1);
    assert!(
        (Duration::from_secs(55)..Duration::from_secs(100)).contains(&uac.elapsed),
        "BYE after {:.1?}, expected about 60 s",
        uac.elapsed
    );
    assert_eq!(uac.sent_count("BYE "), 0);
    assert_eq!(uas.received_count("BYE "), 1);
}

// --- 100rel required by the gateway ---------------------------------------------------------

/// The caller PRACKs a reliable 180, and sends no PRACK for an unreliable one (what it gets
/// through sbcd, which terminates 100rel per leg).
#[test]
fn direct_prack() {
    let dir = TempDir::new("prack");
    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_prack.xml").calls(3), |gw| {
        Sipp::uac(&dir, "uac_prack.xml", gw).calls(3).rate(20)
    });
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
    assert_eq!(uac.sent_count("PRACK "), 3);

    let (uac, uas) = run_pair(Sipp::uas(&dir, "uas_basic.xml").calls(3), |gw| {
        Sipp::uac(&dir, "uac_prack.xml", gw).calls(3).rate(20)
    });
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
    assert_eq!(uac.sent_count("PRACK "), 0);
}

#[test]
fn via_sbcd_prack() {
    let (uac, uas) = via_pair(
        "via-prack",
        |d| Sipp::uas(d, "uas_prack.xml").calls(3),
        "",
        |d, sbc| Sipp::uac(d, "uac_prack.xml", sbc).calls(3).rate(20),
    );
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
    assert!(uas.received_count("PRACK ") >= 3, "sbcd PRACKs the gateway");
    assert_eq!(
        uac.sent_count("PRACK "),
        0,
        "the caller gets an unreliable 180"
    );
}

// --- failover: first gateway down -----------------------------------------------------------

/// Nothing listens on the first gateway's address: a caller sent there fails (bounded), so
/// the via-sbcd test can only pass by failing over.
#[test]
fn direct_failover_gateway_down() {
    let dir = TempDir::new("gw-down");
    let [dead] = free_ports::<1>();
    let uac = Sipp::uac(&dir, "uac_basic.xml", loopback(dead))
        .calls(1)
        .timeout_s(3)
        .run();
    assert!(uac.code != 0 && uac.successful == 0, "{uac}");
}

#[test]
fn via_sbcd_failover_gateway_down() {
    let dir = TempDir::new("via-gw-down");
    let [dead] = free_ports::<1>();
    let gw = Sipp::uas(&dir, "uas_basic.xml")
        .calls(3)
        .timeout_s(90)
        .spawn();
    let sbcd = start_lab(&dir, &[loopback(dead), gw.addr()], &fast_failover_extra());
    let uac = Sipp::uac(&dir, "uac_basic.xml", sbcd.addr(LAB))
        .calls(3)
        .rate(10)
        .pause_ms(200)
        .timeout_s(60)
        .run();
    let uas = gw.finish();
    uac.assert_all_ok(3);
    uas.assert_all_ok(3);
    assert_hidden(&uac, &uas);
}

// --- failover: 503 + Retry-After ------------------------------------------------------------

/// Both halves: the out-of-service gateway answers 503 + Retry-After (to a stand-in for the
/// SBC's B leg); the second gateway is the basic pair.
#[test]
fn direct_failover_503() {
    let dir = TempDir::new("gw-503");
    // As in the via-sbcd test, gw1 runs without -m and is stopped at the end.
    let gw1 = Sipp::uas(&dir, "uas_503.xml").timeout_s(30).spawn();
    let b_leg = Sipp::uac(&dir, "standin_uac_expect_503.xml", gw1.addr())
        .calls(3)
        .rate(20)
        .run();
    let gw1 = gw1.stop();
    b_leg.assert_all_ok(3);
    assert_eq!((gw1.successful, gw1.failed), (3, 0), "{gw1}");
    assert_eq!(gw1.received_count("INVITE "), 3);

    let (uac, gw2) = run_pair(Sipp::uas(&dir, "uas_basic.xml").calls(3), |gw| {
        Sipp::uac(&dir, "uac_basic.xml", gw).calls(3).rate(20)
    });
    uac.assert_all_ok(3);
    gw2.assert_all_ok(3);
}

/// gw1 answers 503 Retry-After: 30, gw2 answers. Every call succeeds through gw2, the
/// caller never sees the 503, and after the first 503 sbcd keeps away from gw1: the pause is
/// node-wide (TI-18), so gw1 sees exactly one INVITE whatever the shard count (the calls are
/// 100 ms apart, so no second INVITE is in flight when the 503 arrives).
#[test]
fn via_sbcd_failover_503() {
    // Enough calls that ignoring Retry-After would show whatever the shard count.
    let shards = std::thread::available_parallelism().map_or(1, |n| n.get());
    let calls = 4 * shards as u32 + 1;
    let dir = TempDir::new("via-gw-503");
    let gw1 = Sipp::uas(&dir, "uas_503.xml").timeout_s(90).spawn();
    let gw2 = Sipp::uas(&dir, "uas_basic.xml")
        .calls(calls)
        .timeout_s(90)
        .spawn();
    let sbcd = start_lab(&dir, &[gw1.addr(), gw2.addr()], "");
    let uac = Sipp::uac(&dir, "uac_basic.xml", sbcd.addr(LAB))
        .calls(calls)
        .rate(10)
        .pause_ms(200)
        .timeout_s(60)
        .run();
    let uas2 = gw2.finish();
    let uas1 = gw1.stop();
    uac.assert_all_ok(u64::from(calls));
    uas2.assert_all_ok(u64::from(calls));
    assert_eq!(
        uac.received_count("SIP/2.0 503"),
        0,
        "the 503 is not relayed"
    );
    let tried = uas1.received_count("INVITE ");
    assert_eq!(
        tried, 1,
        "Retry-After: 30 must keep sbcd away from gw1 ({shards} shards): {uas1}"
    );
    assert_hidden(&uac, &uas2);
}

// --- overload beyond the call limit ---------------------------------------------------------

#[test]
fn direct_overload() {
    let dir = TempDir::new("overload");
    let (uac, uas) = run_pair(Sipp::uas(&dir, "standin_uas_limit.xml").calls(40), |gw| {
        Sipp::uac(&dir, "uac_overload.xml", gw)
            .calls(40)
            .rate(100)
            .pause_ms(200)
    });
    uac.assert_all_ok(40);
    uas.assert_all_ok(40);
    let refused = uac.step_count("_503_Recv", false);
    let answered = uac.step_count("_200_Recv", true);
    assert_eq!(answered + refused, 40, "{}", uac.counts);
    assert!(
        answered >= 1 && refused >= 1,
        "{answered} answered, {refused} refused"
    );
    assert_eq!(uac.received_count("SIP/2.0 503"), refused as usize);
}

/// 40 calls of 3 s at 20 per second against a limit of 5 concurrent calls: the excess is
/// refused with 503 (+ Retry-After), the gateway never sees more than 5 at once.
#[test]
fn via_sbcd_overload() {
    const LIMIT: u32 = 5;
    let dir = TempDir::new("via-overload");
    let gw = Sipp::uas(&dir, "uas_basic.xml").timeout_s(60).spawn();
    let sbcd = start_lab(&dir, &[gw.addr()], &limit_extra(LIMIT));
    let uac = Sipp::uac(&dir, "uac_overload.xml", sbcd.addr(LAB))
        .calls(40)
        .rate(20)
        .pause_ms(3000)
        .timeout_s(60)
        .run();
    let uas = gw.stop();
    uac.assert_all_ok(40);
    let refused = uac.step_count("_503_Recv", false);
    let answered = uac.step_count("_200_Recv", true);
    assert_eq!(answered + refused, 40, "{}", uac.counts);
    assert!(
        answered >= 1 && refused >= 1,
        "{answered} answered, {refused} refused"
    );
    assert_eq!(uas.successful, answered, "{uas}");
    // The limit is node-wide: the shards share one set of counters.
    assert!(
        uas.max_concurrent_calls() <= LIMIT as usize,
        "the gateway saw {} calls at once (node-wide limit {LIMIT})",
        uas.max_concurrent_calls()
    );
    assert_hidden(&uac, &uas);
}

// --- 500 calls at a steady rate -------------------------------------------------------------

#[test]
fn direct_steady_500_calls() {
    let dir = TempDir::new("steady");
    let (uac, uas) = run_pair(
        Sipp::uas(&dir, "uas_basic.xml").calls(500).timeout_s(60),
        |gw| {
            Sipp::uac(&dir, "uac_basic.xml", gw)
                .calls(500)
                .rate(50)
                .pause_ms(1000)
                .timeout_s(60)
        },
    );
    uac.assert_all_ok(500);
    uas.assert_all_ok(500);
    // 50 new calls a second held 1 s: about 50 at once (sanity of the counter the overload
    // test relies on).
    let peak = uas.max_concurrent_calls();
    assert!((10..=200).contains(&peak), "peak {peak}");
}

#[test]
fn via_sbcd_steady_500_calls() {
    let (uac, uas) = via_pair(
        "via-steady",
        |d| Sipp::uas(d, "uas_basic.xml").calls(500).timeout_s(60),
        "",
        |d, sbc| {
            Sipp::uac(d, "uac_basic.xml", sbc)
                .calls(500)
                .rate(50)
                .pause_ms(1000)
                .timeout_s(60)
        },
    );
    uac.assert_all_ok(500);
    uas.assert_all_ok(500);
}
