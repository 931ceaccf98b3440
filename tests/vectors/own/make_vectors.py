#!/usr/bin/env python3
"""Writes this project's own SIP test vectors (CRLF line ends, exact Content-Length).

Run from this folder; the .sip files it writes are committed and marked -text.
Addresses are documentation ranges (RFC 5737 / RFC 3849) or Microsoft's published
names; numbers are from the fictional 555 range.
"""

def msg(start, headers, body=b"", cl=True):
    out = start.encode() + b"\r\n"
    for h in headers:
        out += (h.encode() if isinstance(h, str) else h) + b"\r\n"
    if cl:
        out += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    return out + b"\r\n" + body

def sdp(lines):
    return ("\r\n".join(lines) + "\r\n").encode()

TEAMS_SDP = sdp([
    "v=0",
    "o=- 2451 0 IN IP4 52.114.250.137",
    "s=session",
    "c=IN IP4 52.114.250.137",
    "b=CT:10000000",
    "t=0 0",
    "m=audio 52818 RTP/SAVP 104 9 111 18 0 8 103 97 13 118 101",
    "c=IN IP4 52.114.250.137",
    "a=rtcp:52819",
    "a=ice-ufrag:Ht6H",
    "a=ice-pwd:oE8I3Te0ZnVXIZiDpg7F5cUw",
    "a=candidate:1 1 UDP 2130706431 52.114.250.137 52818 typ host",
    "a=candidate:1 2 UDP 2130705918 52.114.250.137 52819 typ host",
    "a=x-candidate-ipv6:2 1 UDP 2130705919 2603:1063:1:2::5 52818 typ host",
    "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:8eF8g3ESNc1Iu+sS9W9zTqGzPVO1nqnyzG8p5k9K|2^31|1:1",
    "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:mbq8kq6M3gJQb6vR+WQ0RBHHSp1TOZ9IBv7vqk4E|2^31",
    "a=maxptime:200",
    "a=rtcp-mux",
    "a=rtpmap:104 SILK/16000",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:111 SILK/8000",
    "a=rtpmap:18 G729/8000",
    "a=fmtp:18 annexb=no",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:103 SILK/8000",
    "a=rtpmap:97 RED/8000",
    "a=rtpmap:13 CN/8000",
    "a=rtpmap:118 CN/16000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-16",
    "a=ptime:20",
    "a=label:main-audio",
    "a=x-source-streamid:35694",
])

files = {}

files["teams-invite.sip"] = msg("INVITE sip:+14255550100@tenant1.sbc.example.com:5061;user=phone;transport=tls SIP/2.0", [
    "Via: SIP/2.0/TLS 52.114.132.46:5061;branch=z9hG4bKa1b2c3d4e5f6.1",
    "Record-Route: <sip:sip-du-a-us.pstnhub.microsoft.com:5061;transport=tls;lr>",
    "Max-Forwards: 69",
    'From: "Alice Contoso" <sip:+14255550199@sip.pstnhub.microsoft.com;user=phone>;tag=9a8b7c6d5e4f4a3b',
    "To: <sip:+14255550100@tenant1.sbc.example.com;user=phone>",
    "Call-ID: 5c9e2f0a7b1d4e3c8f6a2b9d0e1f3a4b",
    "CSeq: 1 INVITE",
    "Contact: <sip:api-du-b-usea.pstnhub.microsoft.com:443;x-i=2f0d6a1e-7c5b-4f5e-9a3c-8e1b2d4f6a7c;x-c=5c9e2f0a7b1d4e3c/d/8/abcdef>",
    "Allow: INVITE, ACK, OPTIONS, CANCEL, BYE, NOTIFY, REFER",
    "Supported: timer",
    "Session-Expires: 3600;refresher=uac",
    "Min-SE: 90",
    "User-Agent: Microsoft.PSTNHub.SIPProxy v.2024.10.1.2 i.USEA.3",
    "X-MS-TenantID: 4e1f2a3b-5c6d-4e7f-8a9b-0c1d2e3f4a5b",
    "X-MS-CallChainId: 2f0d6a1e-7c5b-4f5e-9a3c-8e1b2d4f6a7c",
    "P-Asserted-Identity: <sip:+14255550199@sip.pstnhub.microsoft.com;user=phone>",
    "Content-Type: application/sdp",
], TEAMS_SDP)

PIDF = b"""<?xml version="1.0" encoding="UTF-8"?>\r
<presence xmlns="urn:ietf:params:xml:ns:pidf"\r
    xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"\r
    xmlns:gbp="urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy"\r
    xmlns:cl="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"\r
    xmlns:gml="http://www.opengis.net/gml"\r
    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"\r
    entity="pres:alice@atlanta.example.com">\r
  <dm:device id="target123-1">\r
    <gp:geopriv>\r
      <gp:location-info>\r
        <gml:location>\r
          <gml:Point srsName="urn:ogc:def:crs:EPSG::4326">\r
            <gml:pos>32.86726 -97.16054</gml:pos>\r
          </gml:Point>\r
        </gml:location>\r
        <cl:civicAddress>\r
          <cl:country>US</cl:country>\r
          <cl:A1>Texas</cl:A1>\r
          <cl:A3>Colleyville</cl:A3>\r
          <cl:RD>Main</cl:RD><cl:STS>St</cl:STS><cl:HNO>3450</cl:HNO>\r
          <cl:PC>76034</cl:PC>\r
        </cl:civicAddress>\r
      </gp:location-info>\r
      <gp:usage-rules>\r
        <gbp:retransmission-allowed>false</gbp:retransmission-allowed>\r
        <gbp:retention-expiry>2026-12-31T00:00:00Z</gbp:retention-expiry>\r
      </gp:usage-rules>\r
      <gp:method>802.11</gp:method>\r
    </gp:geopriv>\r
    <dm:deviceID>mac:1234567890ab</dm:deviceID>\r
    <dm:timestamp>2026-11-22T03:20:00Z</dm:timestamp>\r
  </dm:device>\r
</presence>\r
"""

EMERG_SDP = sdp([
    "v=0",
    "o=- 7788 0 IN IP4 52.114.250.140",
    "s=session",
    "c=IN IP4 52.114.250.140",
    "t=0 0",
    "m=audio 50020 RTP/SAVP 0 8 101",
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31|1:1",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-16",
    "a=rtcp-mux",
])

BOUNDARY = "boundary1"
emergency_body = (
    b"--" + BOUNDARY.encode() + b"\r\n"
    + b"Content-Type: application/sdp\r\n\r\n" + EMERG_SDP + b"\r\n"
    + b"--" + BOUNDARY.encode() + b"\r\n"
    + b"Content-Type: application/pidf+xml\r\n"
    + b"Content-ID: <target123@atlanta.example.com>\r\n\r\n" + PIDF + b"\r\n"
    + b"--" + BOUNDARY.encode() + b"--\r\n"
)

files["emergency-pidf.sip"] = msg("INVITE sip:911@tenant1.sbc.example.com:5061;user=phone SIP/2.0", [
    "Via: SIP/2.0/TLS 52.114.132.47:5061;branch=z9hG4bK77ef0a1b2c3d",
    "Record-Route: <sip:sip-du-a-us.pstnhub.microsoft.com:5061;transport=tls;lr>",
    "Max-Forwards: 70",
    'From: "Alice" <sip:+14255550199@sip.pstnhub.microsoft.com;user=phone>;tag=e1f2a3b4',
    "To: <sip:911@tenant1.sbc.example.com;user=phone>",
    "Call-ID: 3848276298220188511@atlanta.example.com",
    "Geolocation: <cid:target123@atlanta.example.com>",
    "Geolocation-Routing: no",
    "Priority: emergency",
    "Accept: application/sdp, application/pidf+xml",
    "CSeq: 31862 INVITE",
    "Contact: <sip:api-du-b-usea.pstnhub.microsoft.com:443;x-i=9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b>",
    "Allow: INVITE, ACK, OPTIONS, CANCEL, BYE, NOTIFY, REFER",
    "X-MS-TenantID: 4e1f2a3b-5c6d-4e7f-8a9b-0c1d2e3f4a5b",
    'Content-Type: multipart/mixed; boundary=' + BOUNDARY,
], emergency_body)

GW_SDP = sdp([
    "v=0",
    "o=gw 1234 5678 IN IP4 192.0.2.50",
    "s=-",
    "c=IN IP4 192.0.2.50",
    "t=0 0",
    "m=audio 16384 RTP/AVP 0 8 101",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=ptime:20",
    "a=sendrecv",
])

files["ok200-sdp.sip"] = msg("SIP/2.0 200 OK", [
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK3f1a9e2c;received=198.51.100.10;rport=5060",
    "Record-Route: <sip:198.51.100.20;lr>",
    "From: <sip:+14255550199@198.51.100.10>;tag=a73kszlfl",
    "To: <sip:+14255550100@192.0.2.50>;tag=1928301774",
    "Call-ID: f81d4fae-7dec-11d0-a765-00a0c91e6bf6@198.51.100.10",
    "CSeq: 1 INVITE",
    "Contact: <sip:+14255550100@192.0.2.50:5060>",
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE",
    "Supported: 100rel, timer",
    "Server: ExampleGateway/4.2",
    "Content-Type: application/sdp",
], GW_SDP)

HOLD_SDP = GW_SDP.replace(b"a=sendrecv", b"a=inactive").replace(b"5678", b"5679")
files["reinvite-hold.sip"] = msg("INVITE sip:+14255550100@192.0.2.50:5060 SIP/2.0", [
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK9d2e11aa;rport",
    "Route: <sip:198.51.100.20;lr>",
    "Max-Forwards: 70",
    "From: <sip:+14255550199@198.51.100.10>;tag=a73kszlfl",
    "To: <sip:+14255550100@192.0.2.50>;tag=1928301774",
    "Call-ID: f81d4fae-7dec-11d0-a765-00a0c91e6bf6@198.51.100.10",
    "CSeq: 2 INVITE",
    "Contact: <sip:sbc@198.51.100.10:5060>",
    "Session-Expires: 1800;refresher=uac",
    "Supported: timer",
    "Content-Type: application/sdp",
], HOLD_SDP)

def referred_by_of(n):
    uri = "sip:+14255550199@sip.pstnhub.microsoft.com;user=phone;x-ms-ref=" + "a" * n
    return '"Transferor" <' + uri + '>;cid="2UWQFN309shb3@atlanta.example.com"'
# TI-26: Referred-By values up to 400 characters must be accepted and copied byte for byte.
referred_by = referred_by_of(400 - len(referred_by_of(0)))
assert len(referred_by) == 400
files["refer-long-referred-by.sip"] = msg("REFER sip:tenant1.sbc.example.com:5061;transport=tls SIP/2.0", [
    "Via: SIP/2.0/TLS 52.114.132.46:5061;branch=z9hG4bKrefer4242",
    "Max-Forwards: 70",
    "From: <sip:+14255550199@sip.pstnhub.microsoft.com;user=phone>;tag=9a8b7c6d5e4f4a3b",
    "To: <sip:+14255550100@tenant1.sbc.example.com;user=phone>;tag=sbc-1f2e3d",
    "Call-ID: 5c9e2f0a7b1d4e3c8f6a2b9d0e1f3a4b",
    "CSeq: 3 REFER",
    "Contact: <sip:api-du-b-usea.pstnhub.microsoft.com:443;x-i=2f0d6a1e>",
    "Refer-To: <sip:+14255550123@sip.pstnhub.microsoft.com;user=phone;x-m=ab12;x-t=cd34>",
    "Referred-By: " + referred_by,
    "X-MS-SBC: Example/TeamsSBC/0.1",
], b"")

big_lines = ["v=0", "o=- 1 1 IN IP4 52.114.250.137", "s=session", "c=IN IP4 52.114.250.137", "t=0 0",
             "m=audio 52818 RTP/SAVP 0 8 101"]
i = 0
while len(sdp(big_lines)) < 9800:
    big_lines.append(f"a=candidate:{i} 1 UDP {2130706431 - i} 52.114.{i % 250}.{(i * 7) % 250} {50000 + i} typ host")
    i += 1
files["big-10k.sip"] = msg("INVITE sip:+14255550100@tenant1.sbc.example.com:5061;user=phone SIP/2.0", [
    "Via: SIP/2.0/TLS 52.114.132.46:5061;branch=z9hG4bKbig10240",
    "Max-Forwards: 70",
    "From: <sip:+14255550199@sip.pstnhub.microsoft.com;user=phone>;tag=big1",
    "To: <sip:+14255550100@tenant1.sbc.example.com;user=phone>",
    "Call-ID: big10k-0001",
    "CSeq: 1 INVITE",
    "Contact: <sip:api-du-b-usea.pstnhub.microsoft.com:443>",
    "Content-Type: application/sdp",
], sdp(big_lines))

files["compact.sip"] = msg("INVITE sip:bob@example.com SIP/2.0", [
    "v: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKcompact1",
    "f: Alice <sip:alice@example.com>;tag=88sja8x",
    "t: <sip:bob@example.com>",
    "i: compact-only-1@192.0.2.4",
    "CSeq: 1 INVITE",
    "Max-Forwards: 70",
    "m: <sip:alice@192.0.2.4>",
    "k: timer, 100rel",
    "x: 1800;refresher=uac",
    "s: compact forms only",
    "c: application/sdp",
    "l: " + str(len(GW_SDP)),
], GW_SDP, cl=False)

files["comma-via-route.sip"] = msg("BYE sip:+14255550100@192.0.2.50:5060 SIP/2.0", [
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKbye001, SIP/2.0/TCP 203.0.113.5:5060;branch=z9hG4bKbye000;received=203.0.113.5",
    "v: SIP/2.0/UDP [2001:db8::7]:5060;branch=z9hG4bKbye0ff",
    "Route: <sip:198.51.100.20;lr>, <sip:203.0.113.30;lr;transport=tcp>,<sip:[2001:db8::30];lr>",
    "Max-Forwards: 70",
    "From: <sip:+14255550199@198.51.100.10>;tag=a73kszlfl",
    "To: <sip:+14255550100@192.0.2.50>;tag=1928301774",
    "Call-ID: f81d4fae-7dec-11d0-a765-00a0c91e6bf6@198.51.100.10",
    "CSeq: 3 BYE",
], b"")

# Realistic messages for benchmarks: a ~900-byte gateway INVITE, ACK, BYE, OPTIONS.
files["invite-900.sip"] = msg("INVITE sip:+14255550100@192.0.2.50:5060;user=phone SIP/2.0", [
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK776asdhds;rport",
    "Max-Forwards: 70",
    'From: "Alice" <sip:+14255550199@198.51.100.10;user=phone>;tag=1928301774',
    "To: <sip:+14255550100@192.0.2.50;user=phone>",
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
    "CSeq: 314159 INVITE",
    "Contact: <sip:+14255550199@198.51.100.10:5060>",
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, REFER, NOTIFY",
    "Supported: 100rel, timer, replaces",
    "P-Asserted-Identity: <sip:+14255550199@198.51.100.10;user=phone>",
    "User-Agent: ExampleSBC/1.0",
    "Content-Type: application/sdp",
], GW_SDP)

files["ack.sip"] = msg("ACK sip:+14255550100@192.0.2.50:5060 SIP/2.0", [
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK8f2a91c0;rport",
    "Max-Forwards: 70",
    "From: <sip:+14255550199@198.51.100.10>;tag=a73kszlfl",
    "To: <sip:+14255550100@192.0.2.50>;tag=1928301774",
    "Call-ID: f81d4fae-7dec-11d0-a765-00a0c91e6bf6@198.51.100.10",
    "CSeq: 1 ACK",
], b"")

files["bye.sip"] = msg("BYE sip:+14255550100@192.0.2.50:5060 SIP/2.0", [
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK0b1c2d3e;rport",
    "Max-Forwards: 70",
    "From: <sip:+14255550199@198.51.100.10>;tag=a73kszlfl",
    "To: <sip:+14255550100@192.0.2.50>;tag=1928301774",
    "Call-ID: f81d4fae-7dec-11d0-a765-00a0c91e6bf6@198.51.100.10",
    "CSeq: 4 BYE",
    "Reason: Q.850;cause=16;text=\"Normal call clearing\"",
], b"")

files["options.sip"] = msg("OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls SIP/2.0", [
    "Via: SIP/2.0/TLS 198.51.100.10:5061;branch=z9hG4bKopt0001;alias",
    "Max-Forwards: 70",
    "From: <sip:sbc.example.com:5061;transport=tls>;tag=opt123",
    "To: <sip:sip.pstnhub.microsoft.com:5061>",
    "Call-ID: options-0001@sbc.example.com",
    "CSeq: 1 OPTIONS",
    "Contact: <sip:sbc.example.com:5061;transport=tls>",
    "X-MS-SBC: Example/TeamsSBC/0.1",
    "Accept: application/sdp",
], b"")

for name, data in files.items():
    with open(name, "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")
