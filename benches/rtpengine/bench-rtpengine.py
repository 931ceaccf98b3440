#!/usr/bin/env python3
"""Run the relay benchmark's generator and sink against rtpengine (Debian rtpengine-daemon,
userspace forwarding only: --table=-1) for the comparison of issue 7.

    apt-get install rtpengine-daemon
    cargo bench -p sbc-benches --bench relay --no-run   # prints the binary path
    python3 benches/rtpengine/bench-rtpengine.py BENCH_BINARY [rtp-rtp|rtp-srtp] [CALLS] [SECONDS]

It starts rtpengine with one media thread, sets up CALLS calls over the ng control
protocol (offer from the generator's address, answer from the sink's; for rtp-srtp the
answer is RTP/SAVP with an SDES key, so rtpengine encrypts towards the sink), writes the
ports rtpengine answered to a file, and runs `BENCH_BINARY external 0 SECONDS` with the
RELAY_BENCH_* variables, which measures packets forwarded per CPU-second of the rtpengine
process (all its threads).
"""
import base64
import os
import socket
import subprocess
import sys
import tempfile
import time

GEN_PORT = 41000
SINK_PORT = 41002
NG_PORT = 22222


def bencode(x):
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, list):
        return b"l" + b"".join(bencode(i) for i in x) + b"e"
    if isinstance(x, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in sorted(x.items())) + b"e"
    raise TypeError(x)


def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        i += 1
        out = []
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while b[i:i + 1] != b"e":
            k, i = bdecode(b, i)
            v, i = bdecode(b, i)
            out[k.decode()] = v
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


def ng(sock, n, cmd):
    cookie = b"c%d" % n
    sock.sendto(cookie + b" " + bencode(cmd), ("127.0.0.1", NG_PORT))
    while True:
        data, _ = sock.recvfrom(65535)
        if data.startswith(cookie + b" "):
            reply, _ = bdecode(data, len(cookie) + 1)
            if reply.get("result") != b"ok":
                raise RuntimeError("rtpengine: %r" % reply)
            return reply["sdp"].decode()


def sdp(port, savp):
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
             "m=audio %d RTP/%s 0" % (port, "SAVP" if savp else "AVP"), "a=rtpmap:0 PCMU/8000", "a=sendrecv"]
    if savp:
        key = base64.b64encode(bytes(range(30))).decode()
        lines.append("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + key)
    return "\r\n".join(lines) + "\r\n"


def media_port(text):
    for line in text.splitlines():
        if line.startswith("m=audio "):
            return int(line.split()[1])
    raise RuntimeError("no m= line in %r" % text)


def main():
    binary = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) > 2 else "rtp-rtp"
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    secs = sys.argv[4] if len(sys.argv) > 4 else "5"
    savp = mode == "rtp-srtp"
    proc = subprocess.Popen(
        ["rtpengine", "--foreground", "--log-stderr", "--log-level=3", "--table=-1",
         "--interface=127.0.0.1", "--listen-ng=127.0.0.1:%d" % NG_PORT,
         "--port-min=30000", "--port-max=39999", "--num-threads=1", "--media-num-threads=1"],
        stderr=subprocess.DEVNULL)
    try:
        ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ctl.settimeout(5)
        for _ in range(50):
            try:
                ctl.sendto(b"p0 " + bencode({"command": "ping"}), ("127.0.0.1", NG_PORT))
                ctl.recvfrom(1000)
                break
            except OSError:
                time.sleep(0.1)
        targets = []
        for i in range(calls):
            offer = {"command": "offer", "call-id": "call%d" % i, "from-tag": "f%d" % i,
                     "sdp": sdp(GEN_PORT, False)}
            if savp:
                offer["transport-protocol"] = "RTP/SAVP"
            ng(ctl, 2 * i + 1, offer)
            ans = ng(ctl, 2 * i + 2, {"command": "answer", "call-id": "call%d" % i, "from-tag": "f%d" % i,
                                       "to-tag": "t%d" % i, "sdp": sdp(SINK_PORT, savp)})
            targets.append("127.0.0.1:%d" % media_port(ans))
        with tempfile.NamedTemporaryFile("w", delete=False, suffix=".txt") as f:
            f.write("\n".join(targets) + "\n")
        env = dict(os.environ, RELAY_BENCH_TARGETS=f.name, RELAY_BENCH_PID=str(proc.pid),
                   RELAY_BENCH_GEN_PORT=str(GEN_PORT), RELAY_BENCH_SINK_PORT=str(SINK_PORT))
        print("rtpengine %s: %d calls set up" % (mode, calls), file=sys.stderr)
        subprocess.run([binary, "external", "0", secs], env=env, check=True)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
