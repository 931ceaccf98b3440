//! The per-call media session: two legs, RFC 3264 offer/answer across INVITE / 183 / 2xx /
//! ACK / re-INVITE / UPDATE, port leases, SRTP keys, and the relay plan.

use std::net::{IpAddr, SocketAddr};

use sbc_sdp::{Direction, Lifetime, Media, Sdp};

use crate::error::MediaError;
use crate::keys::{KeySource, MkiSpec, SrtpKey, SrtpSuite};
use crate::plan::{LegPlan, PayloadType, RelayPlan, SrtpKeys, StreamPlan};
use crate::policy::{LegConfig, MediaMode, MediaPolicy, SessionConfig, SrtpPolicy};
use crate::pool::{PortPair, PortPool};
use crate::rewrite::{direction_toward, render, OriginState, OutStream};

/// A side of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// The Microsoft/Teams side, or the caller.
    A,
    /// The gateway side, or the callee.
    B,
}

impl Leg {
    /// The other leg.
    pub fn other(self) -> Leg {
        match self {
            Leg::A => Leg::B,
            Leg::B => Leg::A,
        }
    }
    fn idx(self) -> usize {
        match self {
            Leg::A => 0,
            Leg::B => 1,
        }
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// A 18x (early media): the relay may start, the offer stays open for the final answer
    /// (a forked or repeated 18x, or the 2xx, may replace it).
    Provisional,
    /// A 2xx, an ACK (delayed offer), or a 2xx to UPDATE/re-INVITE: the negotiation ends.
    Final,
}

/// What one peer's SDP said about one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PeerStream {
    remote_rtp: Option<SocketAddr>,
    remote_rtcp: Option<SocketAddr>,
    /// `a=rtcp-mux` present.
    mux: bool,
    /// Effective direction, `c=0.0.0.0` folded in.
    direction: Direction,
    /// The peer's key and the tag of its line.
    key: Option<(u32, SrtpKey)>,
}

/// Negotiated state of one stream on one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LegState {
    ports: PortPair,
    peer: PeerStream,
    mux: bool,
    /// Our key toward this peer.
    outbound: Option<SrtpKey>,
    /// The keys of our last offer to this peer (reused in the next offer so that an
    /// unchanged re-offer is byte-identical, RFC 3264 §8).
    offered: Vec<SrtpKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct StreamState {
    media: String,
    legs: [LegState; 2],
    payload_types: Vec<PayloadType>,
}

/// An anchored stream of an outstanding offer.
#[derive(Debug, Clone)]
struct PendingAnchor {
    ports: [PortPair; 2],
    offerer: PeerStream,
    answerer_secure: bool,
    answerer_mux_offered: bool,
    answerer_offered: Vec<SrtpKey>,
}

#[derive(Debug, Clone)]
struct PendingStream {
    media: String,
    offerer_proto: String,
    offerer_formats: String,
    anchor: Option<PendingAnchor>,
}

#[derive(Debug, Clone)]
struct Pending {
    from: Leg,
    streams: Vec<PendingStream>,
    /// Pairs leased for this offer (freed on failure unless the answer kept them).
    new_ports: Vec<PortPair>,
    /// Negotiated state from a provisional answer.
    early: Option<Vec<Option<StreamState>>>,
}

/// One call's media: feed it every SDP body of the call, send what it returns.
///
/// Ports are leased from the caller's [`PortPool`] during [`MediaSession::on_offer`] and
/// returned by [`MediaSession::offer_failed`], by a final answer that drops streams, and by
/// [`MediaSession::release`], which every end path of the call must call (it is idempotent).
#[derive(Debug, Clone)]
pub struct MediaSession {
    cfg: SessionConfig,
    anchored: bool,
    committed: Vec<Option<StreamState>>,
    pending: Option<Pending>,
    origins: [Option<OriginState>; 2],
    last_sent: [Option<Vec<u8>>; 2],
    rekey: [bool; 2],
    released: bool,
}

/// `RTP/AVP`, `RTP/AVPF`, `RTP/SAVP`, `RTP/SAVPF` (RFC 3551, 4585, 3711, 5124): the
/// profiles the relay anchors. Returns whether it is the feedback variant.
fn rtp_profile(proto: &[u8]) -> Option<bool> {
    ["RTP/AVP", "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF"]
        .iter()
        .position(|p| p.as_bytes().eq_ignore_ascii_case(proto))
        .map(|i| i >= 2)
}

fn profile_name(secure: bool, feedback: bool) -> &'static str {
    match (secure, feedback) {
        (false, false) => "RTP/AVP",
        (true, false) => "RTP/SAVP",
        (false, true) => "RTP/AVPF",
        (true, true) => "RTP/SAVPF",
    }
}

/// Encoding names of the static payload types an SBC meets (RFC 3551 §6, Table 4).
fn static_codec(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        13 => ("CN", 8000),
        18 => ("G729", 8000),
        _ => return None,
    })
}

/// The payload types of the `m=` format list with their `rtpmap` (or static, RFC 3551)
/// names, in format order. One pass over the `rtpmap` lines: a per-format lookup would rescan
/// the section once per payload type.
fn payload_types(m: &Media<'_>) -> Vec<PayloadType> {
    let maps: Vec<_> = m.rtpmaps().filter_map(Result::ok).collect();
    m.payload_types()
        .map(|pt| match maps.iter().find(|r| r.payload_type() == pt) {
            Some(r) => PayloadType {
                pt,
                encoding: String::from_utf8_lossy(r.encoding().as_bytes()).into_owned(),
                clock_rate: r.clock_rate(),
                channels: r.channels(),
            },
            None => {
                let (name, rate) = static_codec(pt).unwrap_or(("", 0));
                PayloadType {
                    pt,
                    encoding: name.into(),
                    clock_rate: rate,
                    channels: None,
                }
            }
        })
        .collect()
}

fn text(f: sbc_sdp::Field<'_>) -> String {
    String::from_utf8_lossy(f.as_bytes()).into_owned()
}

fn parse_ip(f: sbc_sdp::Field<'_>) -> Option<IpAddr> {
    f.as_str()?.parse().ok()
}

/// The peer's transport view of a stream: addresses, mux, direction (no crypto).
fn peer_stream(m: &Media<'_>, index: usize) -> Result<PeerStream, MediaError> {
    let bad = MediaError::BadConnection { stream: index };
    let conn = m.effective_connection().ok_or(bad.clone())?;
    let ip = parse_ip(conn.host()).ok_or(bad)?;
    // RFC 3264 §8.4: c=0.0.0.0 (RFC 2543 hold) means "do not send to me".
    let hold = conn.is_unspecified();
    let remote_rtp = (!hold).then(|| SocketAddr::new(ip, m.port()));
    let mux = m.rtcp_mux();
    let remote_rtcp = if hold {
        None
    } else if mux {
        remote_rtp
    } else {
        match m.rtcp() {
            // RFC 3605 §2.1: the port, and optionally another address.
            Some(r) => Some(SocketAddr::new(
                r.address().and_then(parse_ip).unwrap_or(ip),
                r.port(),
            )),
            // RFC 3550 §11: RTCP on the next higher port.
            None => m.port().checked_add(1).map(|p| SocketAddr::new(ip, p)),
        }
    };
    let direction = match (hold, m.direction()) {
        (true, Direction::SendRecv) => Direction::SendOnly,
        (true, Direction::RecvOnly) => Direction::Inactive,
        (_, d) => d,
    };
    Ok(PeerStream {
        remote_rtp,
        remote_rtcp,
        mux,
        direction,
        key: None,
    })
}

impl MediaSession {
    /// A session with no SDP yet. Whether media is anchored is fixed here: unless both legs
    /// are [`MediaMode::PassThrough`], the call is anchored.
    pub fn new(cfg: SessionConfig) -> Self {
        let anchored =
            cfg.a.policy.mode == MediaMode::Anchor || cfg.b.policy.mode == MediaMode::Anchor;
        MediaSession {
            cfg,
            anchored,
            committed: Vec::new(),
            pending: None,
            origins: [None, None],
            last_sent: [None, None],
            rekey: [false, false],
            released: false,
        }
    }

    /// True when the relay carries this call's media.
    pub fn is_anchored(&self) -> bool {
        self.anchored
    }

    /// The leg whose offer is outstanding, if any.
    pub fn offer_pending(&self) -> Option<Leg> {
        self.pending.as_ref().map(|p| p.from)
    }

    /// The last body returned for `leg` (e.g. to repeat an answer from a reliable 183 in
    /// the 2xx, RFC 3262 §5 / RFC 6337 §3.1).
    pub fn last_sent(&self, leg: Leg) -> Option<&[u8]> {
        self.last_sent[leg.idx()].as_deref()
    }

    /// The next SDP toward `leg` carries fresh keys of ours (RFC 4568 §7.1.4 re-keying).
    pub fn request_rekey(&mut self, leg: Leg) {
        self.rekey[leg.idx()] = true;
    }

    /// Every pair this session holds (committed, early and pending).
    pub fn leased_ports(&self) -> Vec<PortPair> {
        let mut v: Vec<PortPair> = self
            .committed
            .iter()
            .flatten()
            .flat_map(|s| s.legs.iter().map(|l| l.ports))
            .collect();
        if let Some(p) = &self.pending {
            v.extend(p.new_ports.iter().copied());
        }
        v.sort_by_key(|p| p.rtp());
        v.dedup();
        v
    }

    fn leg_cfg(&self, leg: Leg) -> &LegConfig {
        match leg {
            Leg::A => &self.cfg.a,
            Leg::B => &self.cfg.b,
        }
    }

    fn policy(&self, leg: Leg) -> &MediaPolicy {
        &self.leg_cfg(leg).policy
    }

    /// An offer arrived from `from` (INVITE, re-INVITE, UPDATE, or the 2xx of a delayed-offer
    /// INVITE). Returns the offer to send to the other leg.
    ///
    /// Errors: malformed SDP, SRTP required but not offered acceptably (TI-32), nothing
    /// acceptable → 488; pool exhausted → 503; an offer already outstanding → 491. On error
    /// nothing changes: no port stays leased for it.
    pub fn on_offer(
        &mut self,
        from: Leg,
        sdp: &[u8],
        pool: &mut PortPool,
        rng: &mut dyn KeySource,
    ) -> Result<Vec<u8>, MediaError> {
        if self.released {
            return Err(MediaError::Released);
        }
        let parsed = Sdp::parse_with(sdp, &self.cfg.sdp_limits)?;
        // RFC 3262 §5 / RFC 3311 §5.1: an answer in a reliable 18x completes the exchange, so
        // a new offer (UPDATE in the early dialog) first commits that early answer.
        if let Some(early) = self.pending.as_mut().and_then(|p| p.early.take()) {
            self.commit(early, pool);
        }
        if self.pending.is_some() {
            return Err(MediaError::OfferPending);
        }
        if !self.anchored {
            self.pending = Some(Pending {
                from,
                streams: Vec::new(),
                new_ports: Vec::new(),
                early: None,
            });
            self.last_sent[from.other().idx()] = Some(sdp.to_vec());
            return Ok(sdp.to_vec());
        }
        let mut new_ports = Vec::new();
        match self.plan_offer(from, &parsed, pool, rng, &mut new_ports) {
            Ok((streams, out)) => {
                self.rekey[from.other().idx()] = false;
                self.pending = Some(Pending {
                    from,
                    streams,
                    new_ports,
                    early: None,
                });
                self.last_sent[from.other().idx()] = Some(out.clone());
                Ok(out)
            }
            Err(e) => {
                for p in new_ports {
                    pool.release(p);
                }
                Err(e)
            }
        }
    }

    fn plan_offer(
        &mut self,
        from: Leg,
        sdp: &Sdp<'_>,
        pool: &mut PortPool,
        rng: &mut dyn KeySource,
        new_ports: &mut Vec<PortPair>,
    ) -> Result<(Vec<PendingStream>, Vec<u8>), MediaError> {
        let to = from.other();
        let xp = self.policy(from).clone();
        let yp = self.policy(to).clone();
        let mut streams = Vec::with_capacity(sdp.media_count());
        let mut outs = Vec::with_capacity(sdp.media_count());
        let (mut offered, mut anchored, mut srtp_refused) = (0usize, 0usize, false);
        for (i, m) in sdp.media_iter().enumerate() {
            let media = text(m.media_type());
            let proto = text(m.proto());
            let formats = text(m.formats_field());
            let reject = |streams: &mut Vec<PendingStream>, outs: &mut Vec<OutStream<'_>>| {
                streams.push(PendingStream {
                    media: media.clone(),
                    offerer_proto: proto.clone(),
                    offerer_formats: formats.clone(),
                    anchor: None,
                });
                // RFC 3264 §8.2: a stream is disabled in an offer by port 0; the m= line
                // stays so the indexes of both legs keep matching.
                outs.push(OutStream {
                    media: media.clone(),
                    port: 0,
                    proto: proto.clone(),
                    formats: formats.clone(),
                    src: None,
                    keep_pts: None,
                    extra: Vec::new(),
                });
            };
            if m.port() == 0 {
                reject(&mut streams, &mut outs);
                continue;
            }
            offered += 1;
            let Some(feedback) = rtp_profile(m.proto().as_bytes()) else {
                reject(&mut streams, &mut outs);
                continue;
            };
            if anchored >= self.cfg.max_streams {
                reject(&mut streams, &mut outs);
                continue;
            }
            let secure = m.is_secure();
            let key = if secure {
                // RFC 4568 §7.1.1: lines are in the offerer's preference order; take the
                // first one the relay can use.
                m.crypto()
                    .filter_map(Result::ok)
                    .find_map(|c| SrtpKey::from_crypto(&c).map(|k| (c.tag(), k)))
            } else {
                None
            };
            let acceptable = match (xp.srtp, secure) {
                (SrtpPolicy::Required, false) => false,
                (SrtpPolicy::Off, true) => false,
                (_, true) => key.is_some(),
                (_, false) => true,
            };
            if !acceptable {
                srtp_refused |= xp.srtp != SrtpPolicy::Off;
                reject(&mut streams, &mut outs);
                continue;
            }
            // TI-34: only the codecs the receiving leg allows.
            let keep: Vec<u8> = payload_types(&m)
                .into_iter()
                .filter(|p| yp.allows_codec(p.encoding.as_bytes()))
                .map(|p| p.pt)
                .collect();
            if keep.is_empty() {
                reject(&mut streams, &mut outs);
                continue;
            }
            let mut peer = peer_stream(&m, i)?;
            peer.key = key;
            let answerer_secure = match yp.srtp {
                SrtpPolicy::Required => true,
                SrtpPolicy::Off => false,
                SrtpPolicy::Optional => secure,
            };
            let ports = match self.committed.get(i) {
                Some(Some(st)) if st.media.eq_ignore_ascii_case(&media) => {
                    [st.legs[0].ports, st.legs[1].ports]
                }
                _ => {
                    let p0 = pool.allocate()?;
                    new_ports.push(p0);
                    let p1 = pool.allocate()?;
                    new_ports.push(p1);
                    [p0, p1]
                }
            };
            let mut answerer_offered = Vec::new();
            if answerer_secure {
                let mut suites = vec![SrtpSuite::AesCm128HmacSha1_80];
                if yp.offer_sha1_32 {
                    suites.push(SrtpSuite::AesCm128HmacSha1_32);
                }
                let prev = match (self.rekey[to.idx()], self.committed.get(i)) {
                    (false, Some(Some(st))) => Some(&st.legs[to.idx()]),
                    _ => None,
                };
                let (lifetime, mki) = if yp.offer_mki {
                    (
                        Some(Lifetime::PowerOfTwo(31)),
                        Some(MkiSpec {
                            value: 1,
                            length: 1,
                        }),
                    )
                } else {
                    (None, None)
                };
                for suite in suites {
                    let reuse = prev.and_then(|l| {
                        l.offered
                            .iter()
                            .chain(l.outbound.iter())
                            .find(|k| k.suite == suite && k.mki == mki && k.lifetime == lifetime)
                            .cloned()
                    });
                    answerer_offered.push(
                        reuse.unwrap_or_else(|| SrtpKey::generate(suite, lifetime, mki, rng)),
                    );
                }
            }
            let local = ports[to.idx()];
            let mut extra = vec![format!("rtcp:{}", local.rtcp())];
            if yp.rtcp_mux_offer {
                extra.push("rtcp-mux".into());
            }
            for (t, k) in answerer_offered.iter().enumerate() {
                extra.push(format!("crypto:{}", k.attribute_value(t as u32 + 1)));
            }
            extra.push(direction_toward(&yp, peer.direction).as_str().into());
            let fmt_list = keep
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" ");
            outs.push(OutStream {
                media: media.clone(),
                port: local.rtp(),
                proto: profile_name(answerer_secure, feedback).into(),
                formats: fmt_list,
                src: Some(m),
                keep_pts: Some(keep),
                extra,
            });
            streams.push(PendingStream {
                media,
                offerer_proto: proto,
                offerer_formats: formats,
                anchor: Some(PendingAnchor {
                    ports,
                    offerer: peer,
                    answerer_secure,
                    answerer_mux_offered: yp.rtcp_mux_offer,
                    answerer_offered,
                }),
            });
            anchored += 1;
        }
        if offered > 0 && anchored == 0 {
            return Err(if srtp_refused {
                MediaError::SrtpRequired
            } else {
                MediaError::NoAcceptableMedia
            });
        }
        let out = self.render_to(to, sdp, &outs, rng);
        Ok((streams, out))
    }

    fn render_to(
        &mut self,
        to: Leg,
        src: &Sdp<'_>,
        outs: &[OutStream<'_>],
        rng: &mut dyn KeySource,
    ) -> Vec<u8> {
        let origin = self.origins[to.idx()].get_or_insert_with(|| {
            // RFC 8866 §5.2: sess-id is a numeric value unique to this SBC; 31 random bits
            // keep it positive for peers that parse it as a signed integer.
            let mut b = [0u8; 4];
            rng.fill(&mut b);
            OriginState {
                sess_id: u64::from(u32::from_be_bytes(b) >> 1),
                version: 0,
                last_rest: Vec::new(),
            }
        });
        let leg = match to {
            Leg::A => &self.cfg.a,
            Leg::B => &self.cfg.b,
        };
        render(
            src,
            outs,
            &leg.policy,
            leg.local_ip,
            &self.cfg.origin_user,
            origin,
        )
    }

    /// An answer arrived from `from` to the outstanding offer of the other leg. Returns the
    /// answer for the offerer. A [`AnswerKind::Final`] answer commits the negotiation and
    /// returns the ports of dropped streams to `pool`.
    ///
    /// Errors (the offer stays outstanding; call [`MediaSession::offer_failed`] to drop it):
    /// malformed SDP, an answer that does not fit the offer, SRTP required but answered
    /// plain → 488; no outstanding offer from the other leg → 500.
    pub fn on_answer(
        &mut self,
        from: Leg,
        sdp: &[u8],
        kind: AnswerKind,
        pool: &mut PortPool,
        rng: &mut dyn KeySource,
    ) -> Result<Vec<u8>, MediaError> {
        if self.released {
            return Err(MediaError::Released);
        }
        let Some(pending) = self.pending.as_ref().filter(|p| p.from == from.other()) else {
            return Err(MediaError::NoOfferPending);
        };
        let parsed = Sdp::parse_with(sdp, &self.cfg.sdp_limits)?;
        if !self.anchored {
            self.last_sent[pending.from.idx()] = Some(sdp.to_vec());
            match kind {
                AnswerKind::Final => self.pending = None,
                AnswerKind::Provisional => {
                    if let Some(p) = self.pending.as_mut() {
                        p.early = Some(Vec::new());
                    }
                }
            }
            return Ok(sdp.to_vec());
        }
        if parsed.media_count() > pending.streams.len() {
            return Err(MediaError::AnswerMismatch {
                stream: pending.streams.len(),
            });
        }
        let (state, out) = self.plan_answer(from, &parsed, rng)?;
        let offerer = from.other();
        self.rekey[offerer.idx()] = false;
        self.last_sent[offerer.idx()] = Some(out.clone());
        match kind {
            AnswerKind::Provisional => {
                if let Some(p) = self.pending.as_mut() {
                    p.early = Some(state);
                }
            }
            AnswerKind::Final => self.commit(state, pool),
        }
        Ok(out)
    }

    fn plan_answer(
        &mut self,
        from: Leg,
        sdp: &Sdp<'_>,
        rng: &mut dyn KeySource,
    ) -> Result<(Vec<Option<StreamState>>, Vec<u8>), MediaError> {
        let x = from.other();
        let (xi, yi) = (x.idx(), from.idx());
        let xp = self.policy(x).clone();
        let yp = self.policy(from).clone();
        let pending = self.pending.clone().ok_or(MediaError::NoOfferPending)?;
        let mut state = Vec::with_capacity(pending.streams.len());
        let mut outs = Vec::with_capacity(pending.streams.len());
        for (i, ps) in pending.streams.iter().enumerate() {
            let m = sdp.media(i);
            let accepted = match (&ps.anchor, m) {
                (Some(a), Some(m)) if m.port() != 0 => Some((a, m)),
                _ => None,
            };
            let Some((pa, m)) = accepted else {
                // RFC 3264 §6: rejected (or missing) in the answer → rejected toward the
                // offerer, with the offerer's own proto and formats.
                state.push(None);
                outs.push(OutStream {
                    media: ps.media.clone(),
                    port: 0,
                    proto: ps.offerer_proto.clone(),
                    formats: ps.offerer_formats.clone(),
                    src: None,
                    keep_pts: None,
                    extra: Vec::new(),
                });
                continue;
            };
            let mismatch = MediaError::AnswerMismatch { stream: i };
            let mut peer = peer_stream(&m, i)?;
            let secure = m.is_secure();
            let outbound_y = match (pa.answerer_secure, secure) {
                (true, true) => {
                    // RFC 4568 §7.1.2: the answer echoes the tag of the accepted offer line.
                    let (tag, theirs, ours) = m
                        .crypto()
                        .filter_map(Result::ok)
                        .find_map(|c| {
                            let ours = pa
                                .answerer_offered
                                .get((c.tag() as usize).checked_sub(1)?)?;
                            let theirs = SrtpKey::from_crypto(&c)?;
                            (theirs.suite == ours.suite).then(|| (c.tag(), theirs, ours.clone()))
                        })
                        .ok_or(mismatch.clone())?;
                    peer.key = Some((tag, theirs));
                    Some(ours)
                }
                (true, false) if yp.srtp == SrtpPolicy::Required => {
                    return Err(MediaError::SrtpRequired)
                }
                // Liberal: an Optional leg answering plain RTP to our SAVP offer.
                (true, false) => None,
                (false, true) => return Err(mismatch),
                (false, false) => None,
            };
            let y_mux = pa.answerer_mux_offered && peer.mux;
            // Our key toward the offerer: the same as before when nothing about its line
            // changed (byte-identical answers to unchanged re-offers), else fresh.
            let outbound_x = pa.offerer.key.as_ref().map(|(_, theirs)| {
                let (mki, lifetime) = match theirs.mki {
                    // TI-32: Microsoft offers `|2^31|1:1`; answer with the same shape.
                    Some(mk) if xp.symmetric_mki => (
                        Some(MkiSpec {
                            value: 1,
                            length: mk.length,
                        }),
                        theirs.lifetime,
                    ),
                    _ => (None, None),
                };
                let early = pending
                    .early
                    .as_ref()
                    .and_then(|e| e.get(i))
                    .and_then(Option::as_ref);
                let prev = early
                    .or(self.committed.get(i).and_then(Option::as_ref))
                    .filter(|_| !self.rekey[xi])
                    .and_then(|s| s.legs[xi].outbound.clone());
                prev.filter(|k| k.suite == theirs.suite && k.mki == mki && k.lifetime == lifetime)
                    .unwrap_or_else(|| SrtpKey::generate(theirs.suite, lifetime, mki, rng))
            });
            let local = pa.ports[xi];
            let mut extra = Vec::new();
            if pa.offerer.mux {
                // RFC 5761 §5.1.1: accepting mux; the relay handles both.
                extra.push("rtcp-mux".to_string());
            } else {
                extra.push(format!("rtcp:{}", local.rtcp()));
            }
            if let (Some((tag, _)), Some(k)) = (&pa.offerer.key, &outbound_x) {
                // TI-32: exactly one crypto line, the offer's tag and suite.
                extra.push(format!("crypto:{}", k.attribute_value(*tag)));
            }
            extra.push(direction_toward(&xp, peer.direction).as_str().into());
            let payload_types = payload_types(&m);
            outs.push(OutStream {
                media: ps.media.clone(),
                port: local.rtp(),
                proto: ps.offerer_proto.clone(),
                formats: text(m.formats_field()),
                src: Some(m),
                keep_pts: None,
                extra,
            });
            let x_state = LegState {
                ports: pa.ports[xi],
                peer: pa.offerer.clone(),
                mux: pa.offerer.mux,
                outbound: outbound_x,
                offered: Vec::new(),
            };
            let y_state = LegState {
                ports: pa.ports[yi],
                peer,
                mux: y_mux,
                outbound: outbound_y,
                offered: pa.answerer_offered.clone(),
            };
            let legs = if x == Leg::A {
                [x_state, y_state]
            } else {
                [y_state, x_state]
            };
            state.push(Some(StreamState {
                media: ps.media.clone(),
                legs,
                payload_types,
            }));
        }
        let out = self.render_to(x, sdp, &outs, rng);
        Ok((state, out))
    }

    fn commit(&mut self, state: Vec<Option<StreamState>>, pool: &mut PortPool) {
        let keep: Vec<PortPair> = state
            .iter()
            .flatten()
            .flat_map(|s| s.legs.iter().map(|l| l.ports))
            .collect();
        let old = self.leased_ports();
        for p in old {
            if !keep.contains(&p) {
                pool.release(p);
            }
        }
        self.committed = state;
        self.pending = None;
    }

    /// A provisional answer becomes final without a new body (2xx without SDP after a
    /// reliable 183, RFC 3262).
    pub fn confirm_early_answer(&mut self, pool: &mut PortPool) -> Result<(), MediaError> {
        if self.released {
            return Err(MediaError::Released);
        }
        match self.pending.as_mut() {
            Some(p) => {
                let early = p.early.take().ok_or(MediaError::NoOfferPending)?;
                self.commit(early, pool);
                Ok(())
            }
            None => Err(MediaError::NoOfferPending),
        }
    }

    /// The outstanding offer failed (4xx-6xx to the INVITE/re-INVITE/UPDATE, CANCEL, 491,
    /// or an answer the call engine refused): the state before the offer is restored and
    /// the ports leased for it return to `pool`. Harmless when nothing is outstanding.
    pub fn offer_failed(&mut self, pool: &mut PortPool) {
        if let Some(p) = self.pending.take() {
            let keep: Vec<PortPair> = self
                .committed
                .iter()
                .flatten()
                .flat_map(|s| s.legs.iter().map(|l| l.ports))
                .collect();
            for port in p.new_ports {
                if !keep.contains(&port) {
                    pool.release(port);
                }
            }
        }
    }

    /// Ends the session: every leased pair returns to `pool`. Idempotent; every SDP call
    /// afterwards fails with [`MediaError::Released`].
    pub fn release(&mut self, pool: &mut PortPool) {
        for p in self.leased_ports() {
            pool.release(p);
        }
        self.committed.clear();
        self.pending = None;
        self.released = true;
    }

    /// What the relay must do now: the early state of a provisional answer if one is
    /// outstanding, else the committed state. Empty for pass-through calls.
    pub fn relay_plan(&self) -> RelayPlan {
        let (early, streams) = match self.pending.as_ref().and_then(|p| p.early.as_ref()) {
            Some(e) => (true, e),
            None => (false, &self.committed),
        };
        let streams = streams
            .iter()
            .enumerate()
            .filter_map(|(index, s)| {
                let s = s.as_ref()?;
                Some(StreamPlan {
                    index,
                    media: s.media.clone(),
                    a: leg_plan(&s.legs[0]),
                    b: leg_plan(&s.legs[1]),
                    payload_types: s.payload_types.clone(),
                })
            })
            .collect();
        RelayPlan { early, streams }
    }
}

fn leg_plan(l: &LegState) -> LegPlan {
    LegPlan {
        local_rtp: l.ports.rtp(),
        local_rtcp: if l.mux { l.ports.rtp() } else { l.ports.rtcp() },
        remote_rtp: l.peer.remote_rtp,
        remote_rtcp: if l.mux {
            l.peer.remote_rtp
        } else {
            l.peer.remote_rtcp
        },
        rtcp_mux: l.mux,
        srtp: match (&l.peer.key, &l.outbound) {
            (Some((_, inbound)), Some(outbound)) => Some(SrtpKeys {
                inbound: inbound.clone(),
                outbound: outbound.clone(),
            }),
            _ => None,
        },
        direction: l.peer.direction,
    }
}
