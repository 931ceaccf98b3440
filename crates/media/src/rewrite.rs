//! SDP rendering toward one leg: the relay's address and ports, the leg's profile and keys,
//! the leg's attribute policy. Output lines always end in CRLF (RFC 8866 §5).

use std::net::IpAddr;

use sbc_sdp::{Attribute, Direction, Media, Sdp};

use crate::policy::MediaPolicy;

/// One media section to write.
#[derive(Debug)]
pub(crate) struct OutStream<'a> {
    pub media: String,
    /// 0 writes a rejected section: the `m=` line alone (RFC 3264 §6: attributes of a
    /// rejected stream carry no meaning).
    pub port: u16,
    pub proto: String,
    pub formats: String,
    /// Source section whose non-managed lines are copied (`None` for rejected streams).
    pub src: Option<Media<'a>>,
    /// Only these payload types' `rtpmap`/`fmtp` lines are copied (`None`: all).
    pub keep_pts: Option<Vec<u8>>,
    /// Attribute values the SBC adds (without `a=`), in order.
    pub extra: Vec<String>,
}

/// The SBC's `o=` line state toward one leg (RFC 3264 §8: same sess-id, version bumped
/// exactly when the description changes).
#[derive(Debug, Clone)]
pub(crate) struct OriginState {
    pub sess_id: u64,
    pub version: u64,
    /// Everything after the `o=` line of the last body sent.
    pub last_rest: Vec<u8>,
}

/// Attributes the SBC always rewrites itself, so the peer's copies never pass.
const MANAGED: &[&str] = &[
    "crypto", "rtcp", "rtcp-mux", "sendrecv", "sendonly", "recvonly", "inactive",
    // BUNDLE would put all streams on one port pair; the relay anchors each on its own.
    "group",
];

fn managed(a: &Attribute<'_>) -> bool {
    MANAGED.iter().any(|n| a.is_named(n))
}

/// Whether a peer attribute is copied toward a leg with `policy`.
fn keep_attr(a: &Attribute<'_>, policy: &MediaPolicy, keep_pts: Option<&[u8]>) -> bool {
    // TI-37: ICE candidates describe the peer's addresses, wrong once media is anchored.
    if managed(a) || a.is_ice() {
        return false;
    }
    // TI-35: only standard attributes toward Microsoft.
    if policy.standard_attributes_only && !a.is_standard() {
        return false;
    }
    if let (Some(keep), true) = (keep_pts, a.is_named("rtpmap") || a.is_named("fmtp")) {
        let pt = a
            .value()
            .and_then(|v| v.trim().words().next())
            .and_then(|w| w.as_str()?.parse::<u8>().ok());
        if let Some(pt) = pt {
            return keep.contains(&pt);
        }
    }
    true
}

fn push_line(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

fn line_text<'a>(body: &'a [u8], l: &sbc_sdp::Line<'_>) -> &'a [u8] {
    body.get(l.content_range()).unwrap_or_default()
}

fn addr_type(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IP4"
    } else {
        "IP6"
    }
}

/// The direction written toward a leg (TI-29: hold toward Microsoft is `a=inactive` only).
pub(crate) fn direction_toward(policy: &MediaPolicy, d: Direction) -> Direction {
    if policy.hold_as_inactive && d != Direction::SendRecv {
        Direction::Inactive
    } else {
        d
    }
}

/// Renders a body toward a leg. `src` provides the session section to copy from.
pub(crate) fn render(
    src: &Sdp<'_>,
    streams: &[OutStream<'_>],
    policy: &MediaPolicy,
    local_ip: IpAddr,
    origin_user: &str,
    origin: &mut OriginState,
) -> Vec<u8> {
    let body = src.body();
    let mut rest = Vec::with_capacity(body.len() + 256);
    let s_line = src.session_name_line();
    push_line(&mut rest, line_text(body, &s_line));
    // RFC 8866 §5 order: i u e p c b t r z k a. `c=` is ours, `k=` is obsolete (§5.12) and
    // never passes, unknown line types are dropped.
    let session: Vec<_> = src.session_lines().collect();
    for kind in [b'i', b'u', b'e', b'p'] {
        for l in session.iter().filter(|l| l.kind() == kind) {
            push_line(&mut rest, line_text(body, l));
        }
    }
    push_fmt(
        &mut rest,
        format_args!("c=IN {} {local_ip}", addr_type(local_ip)),
    );
    for l in session.iter().filter(|l| l.kind() == b'b') {
        push_line(&mut rest, line_text(body, l));
    }
    for l in session
        .iter()
        .filter(|l| matches!(l.kind(), b't' | b'r' | b'z'))
    {
        push_line(&mut rest, line_text(body, l));
    }
    for a in src.attributes() {
        if keep_attr(&a, policy, None) {
            push_line(&mut rest, line_text(body, &a.line()));
        }
    }
    for s in streams {
        push_fmt(
            &mut rest,
            format_args!("m={} {} {} {}", s.media, s.port, s.proto, s.formats),
        );
        let Some(m) = (s.port != 0).then_some(s.src.as_ref()).flatten() else {
            continue;
        };
        // The attributes come in line order, so one pass pairs each `a=` line with its view.
        let mut attrs = m.attributes();
        for l in m.lines().skip(1) {
            match l.kind() {
                b'i' | b'b' => push_line(&mut rest, line_text(body, &l)),
                b'a' => {
                    let keep = attrs
                        .next()
                        .is_some_and(|a| keep_attr(&a, policy, s.keep_pts.as_deref()));
                    if keep {
                        push_line(&mut rest, line_text(body, &l));
                    }
                }
                _ => {}
            }
        }
        for e in &s.extra {
            push_fmt(&mut rest, format_args!("a={e}"));
        }
    }
    if origin.last_rest != rest {
        origin.version = origin.version.wrapping_add(1);
        origin.last_rest.clone_from(&rest);
    }
    let mut out = Vec::with_capacity(rest.len() + 64);
    push_line(&mut out, b"v=0");
    push_fmt(
        &mut out,
        format_args!(
            "o={origin_user} {} {} IN {} {local_ip}",
            origin.sess_id,
            origin.version,
            addr_type(local_ip)
        ),
    );
    out.extend_from_slice(&rest);
    out
}

/// Appends one formatted line and its CRLF.
fn push_fmt(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) {
    // Writing to a Vec cannot fail.
    let _ = std::io::Write::write_fmt(out, args);
    out.extend_from_slice(b"\r\n");
}
