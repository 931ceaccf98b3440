#!/usr/bin/env python3
"""Regenerates the seed corpus in fuzz/corpus/<target>/ from the repository's test vectors.

    python3 fuzz/make-corpus.py

Sources: tests/vectors/rfc4475/*.dat and tests/vectors/own/*.sip. Deterministic: running it
twice gives the same files. Every target directory is wiped and rewritten.

Encodings (they match the fuzz targets' input layouts):
  parse_message   the message bytes as they are
  framer          [k] [k chunk sizes] stream; stream = one message, or several messages with
                  keep-alives between them
  uri             one Request-URI or From/To/Contact value per file
  sdp             one SDP body per file (application/sdp bodies and SDP parts of multiparts)
  multipart       [len(boundary)] boundary body
  edit_roundtrip  [flags] [sel_replace] [sel_remove] [seed] [len(new_body)] new_body message
  media_rewrite   [flags] [len(offer) u16 BE] offer answer (SDP bodies; answer = a gateway answer)
"""

import hashlib
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")
TARGETS = ["parse_message", "framer", "uri", "sdp", "multipart", "edit_roundtrip", "media_rewrite"]


def vectors():
    out = []
    for sub, ext in (("rfc4475", ".dat"), ("own", ".sip")):
        d = os.path.join(ROOT, "tests", "vectors", sub)
        for name in sorted(os.listdir(d)):
            if name.endswith(ext):
                with open(os.path.join(d, name), "rb") as f:
                    out.append((sub + "-" + name[: -len(ext)], f.read()))
    return out


def split_message(raw):
    """(start line, [(name, value)], body) with the datagram rules of the parser: leading
    CRLFs skipped, folded lines kept in the value, body cut at Content-Length."""
    pos = 0
    while raw.startswith(b"\r\n", pos):
        pos += 2
    end = raw.find(b"\r\n\r\n", pos)
    if end < 0:
        return None
    head = raw[pos:end].split(b"\r\n")
    body = raw[end + 4 :]
    headers = []
    for line in head[1:]:
        if line[:1] in (b" ", b"\t") and headers:
            n, v = headers[-1]
            headers[-1] = (n, v + b"\r\n" + line)
            continue
        m = re.match(rb"^([!-9;-~]+)[ \t]*:[ \t]*(.*?)[ \t]*$", line, re.S)
        if m:
            headers.append((m.group(1), m.group(2)))
    for n, v in headers:
        if n.lower() in (b"content-length", b"l") and v.strip().isdigit():
            cl = int(v.strip())
            if cl <= len(body):
                body = body[:cl]
            break
    return head[0], headers, body


def header_values(headers, names):
    return [v for n, v in headers if n.lower() in names]


def content_type(headers):
    vs = header_values(headers, (b"content-type", b"c"))
    return vs[0] if vs else b""


def boundary_of(ct):
    m = re.search(rb';\s*boundary\s*=\s*("([^"]*)"|[^;\s]+)', ct, re.I)
    if not m:
        return None
    return m.group(2) if m.group(2) is not None else m.group(1)


def multipart_parts(body, boundary):
    """Bodies of the parts, with their Content-Type (enough for seeding)."""
    parts = []
    delim = b"--" + boundary
    chunks = body.split(delim)
    for c in chunks[1:]:
        if c.startswith(b"--"):
            break
        c = c[c.find(b"\n") + 1 :] if b"\n" in c else b""
        sep = c.find(b"\r\n\r\n")
        if sep < 0:
            continue
        hdrs, pbody = c[:sep], c[sep + 4 :]
        if pbody.endswith(b"\r\n"):
            pbody = pbody[:-2]
        ct = b""
        for line in hdrs.split(b"\r\n"):
            if line.lower().startswith(b"content-type:"):
                ct = line.split(b":", 1)[1].strip()
        parts.append((ct, pbody))
    return parts


# A plain gateway answer (PCMU + telephone-event) used as the answer half of media seeds.
GW_ANSWER = (
    b"v=0\r\no=GW 777 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    b"m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
)


def put_media(w, name, body):
    """media_rewrite seeds: the body offered from leg A (Microsoft) and from leg B."""
    if len(body) > 0xFFFF:
        return
    for flags in (0x00, 0x01, 0x0A):
        hdr = bytes([flags, len(body) >> 8, len(body) & 0xFF])
        w.put("media_rewrite", "%s-f%02x" % (name, flags), hdr + body + GW_ANSWER)


class Writer:
    def __init__(self):
        self.seen = {t: set() for t in TARGETS}
        self.count = {t: 0 for t in TARGETS}

    def put(self, target, name, data):
        h = hashlib.sha1(data).hexdigest()
        if h in self.seen[target]:
            return
        self.seen[target].add(h)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        with open(os.path.join(CORPUS, target, name), "wb") as f:
            f.write(data)
        self.count[target] += 1


def main():
    for t in TARGETS:
        d = os.path.join(CORPUS, t)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    w = Writer()
    vecs = vectors()
    byname = dict(vecs)

    for name, raw in vecs:
        # parse_message: as is.
        w.put("parse_message", name, raw)

        # framer: whole; the own vectors also in a few chunks.
        w.put("framer", name + "-whole", bytes([0]) + raw)
        if name.startswith("own-"):
            sizes = [1, 3, 17, 200]
            w.put("framer", name + "-chunked", bytes([len(sizes)] + sizes) + raw)

        parsed = split_message(raw)
        if parsed is None:
            continue
        start, headers, body = parsed

        # uri: Request-URI and From/To/Contact values.
        toks = start.split(b" ")
        if len(toks) == 3 and not start.startswith(b"SIP/"):
            w.put("uri", name + "-ruri", toks[1])
        for label, names in (
            ("from", (b"from", b"f")),
            ("to", (b"to", b"t")),
            ("contact", (b"contact", b"m")),
        ):
            for i, v in enumerate(header_values(headers, names)):
                w.put("uri", "%s-%s%d" % (name, label, i), v)

        # sdp / multipart bodies.
        ct = content_type(headers)
        if ct.lower().startswith(b"application/sdp") and body:
            w.put("sdp", name, body)
            put_media(w, name, body)
        b = boundary_of(ct)
        if ct.lower().startswith(b"multipart/") and b:
            w.put("multipart", name, bytes([len(b)]) + b + body)
            for i, (pct, pbody) in enumerate(multipart_parts(body, b)):
                if pct.lower().startswith(b"application/sdp"):
                    w.put("sdp", "%s-part%d" % (name, i), pbody)
                    put_media(w, "%s-part%d" % (name, i), pbody)

        # edit_roundtrip: every edit at once; for a few vectors also each edit alone.
        new_body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
        single = name in ("own-teams-invite", "rfc4475-wsinv", "rfc4475-inv2543")
        for flags in (0x0F, 0x01, 0x02, 0x04, 0x08) if single else (0x0F,):
            nb = new_body if flags & 8 else b""
            sel = len(name) & 0xFF
            w.put(
                "edit_roundtrip",
                "%s-f%02x" % (name, flags),
                bytes([flags, sel, sel // 2, sel * 7 & 0xFF, len(nb)]) + nb + raw,
            )

    # framer: a connection carrying several messages and keep-alives (RFC 5626 pings/pongs).
    stream = (
        byname["own-options"]
        + b"\r\n\r\n"
        + byname["own-bye"]
        + b"\r\n"
        + byname["own-ack"]
        + b"\r\n\r\n\r\n"
        + byname["own-invite-900"]
    )
    for sizes in ([], [1, 1, 2, 50], [255, 255, 1, 0, 3, 2, 1]):
        w.put("framer", "stream-%d" % len(sizes), bytes([len(sizes)] + sizes) + stream)
    w.put("parse_message", "stream-options-bye-ack-invite", stream)

    # Regression seeds: inputs that once crashed a target (kept so they run on every CI run).
    w.put("edit_roundtrip", "regression-ws-continuation", b"\r[\x06\x02\x00N p: SIP/1.0\r\nO:\r\n \r\n\r\n")
    w.put("parse_message", "regression-ws-continuation", b"N p: SIP/1.0\r\nO:\r\n \r\n\r\n")
    w.put("framer", "regression-split-keepalive", b"\x98\x010\r\nI\r\nI\r\nI")

    total = 0
    for t in TARGETS:
        d = os.path.join(CORPUS, t)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        total += size
        print("%-15s %4d files %8d bytes" % (t, w.count[t], size))
    print("%-15s %4s       %8d bytes" % ("total", "", total))
    if total >= 2 * 1024 * 1024:
        sys.exit("corpus is over 2 MB")


if __name__ == "__main__":
    main()
