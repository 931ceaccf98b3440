//! Test vectors composed from RFC 6442 §5 (location conveyance examples) and helpers.
#![allow(dead_code)]

use sbc_sip::Message;

/// The SDP offer of the examples.
pub const SDP: &[u8] = b"v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

/// The PIDF-LO of RFC 6442 §5 (geodetic Point, method 802.11).
pub const PIDF_GEO: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
<presence\r\n\
   xmlns=\"urn:ietf:params:xml:ns:pidf\"\r\n\
   xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\"\r\n\
   xmlns:gbp=\"urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy\"\r\n\
   xmlns:cl=\"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr\"\r\n\
   xmlns:gml=\"http://www.opengis.net/gml\"\r\n\
   xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"\r\n\
   entity=\"pres:alice@atlanta.example.com\">\r\n\
 <dm:device id=\"target123-1\">\r\n\
   <gp:geopriv>\r\n\
     <gp:location-info>\r\n\
       <gml:location>\r\n\
         <gml:Point srsName=\"urn:ogc:def:crs:EPSG::4326\">\r\n\
           <gml:pos>32.86726 -97.16054</gml:pos>\r\n\
         </gml:Point>\r\n\
        </gml:location>\r\n\
     </gp:location-info>\r\n\
     <gp:usage-rules>\r\n\
       <gbp:retransmission-allowed>false\r\n\
       </gbp:retransmission-allowed>\r\n\
       <gbp:retention-expiry>2010-11-14T20:00:00Z\r\n\
       </gbp:retention-expiry>\r\n\
     </gp:usage-rules>\r\n\
     <gp:method>802.11</gp:method>\r\n\
   </gp:geopriv>\r\n\
   <dm:deviceID>mac:1234567890ab</dm:deviceID>\r\n\
   <dm:timestamp>2010-11-04T20:57:29Z</dm:timestamp>\r\n\
 </dm:device>\r\n\
</presence>\r\n";

/// A civic PIDF-LO as a Teams-style LIS would send (RFC 5139 civic, method LIS); the street
/// and LOC are what must never be logged.
pub fn pidf_civic(loc: &str, method: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n\
<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:alice@contoso.example.com\">\r\n\
<tuple id=\"0\"><status><gp:geopriv xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\">\r\n\
<gp:location-info><ca:civicAddress xmlns:ca=\"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr\">\r\n\
<ca:country>US</ca:country><ca:A1>WA</ca:A1><ca:A3>Redmond</ca:A3>\r\n\
<ca:RD>Secret Street</ca:RD><ca:HNO>1</ca:HNO><ca:LOC>{loc}</ca:LOC>\r\n\
</ca:civicAddress></gp:location-info><gp:usage-rules/>\r\n\
<gp:method>{method}</gp:method></gp:geopriv></status></tuple></presence>\r\n"
    )
    .into_bytes()
}

/// One body part: headers (each without line end) then content.
pub fn part(headers: &[&str], content: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for h in headers {
        v.extend_from_slice(h.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(content);
    v
}

/// A multipart body with CRLF framing.
pub fn multipart(boundary: &str, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    for p in parts {
        v.extend_from_slice(b"--");
        v.extend_from_slice(boundary.as_bytes());
        v.extend_from_slice(b"\r\n");
        v.extend_from_slice(p);
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"--");
    v.extend_from_slice(boundary.as_bytes());
    v.extend_from_slice(b"--\r\n");
    v
}

/// The RFC 6442 §5 body: SDP part, then the PIDF-LO part with its Content-ID.
pub fn rfc6442_body(sdp_first: bool) -> Vec<u8> {
    let sdp = part(&["Content-Type: application/sdp"], SDP);
    let pidf = part(
        &[
            "Content-Type: application/pidf+xml",
            "Content-ID: <target123@atlanta.example.com>",
        ],
        PIDF_GEO,
    );
    if sdp_first {
        multipart("boundary1", &[sdp, pidf])
    } else {
        multipart("boundary1", &[pidf, sdp])
    }
}

/// An INVITE with the given extra header lines (each without line end), Content-Type and body.
pub fn invite(extra: &[&str], content_type: Option<&str>, body: &[u8]) -> Message {
    let mut m = String::from(
        "INVITE sip:911@sbc.example.com;user=phone SIP/2.0\r\n\
Via: SIP/2.0/TLS pc33.atlanta.example.com;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
To: <sip:911@sbc.example.com;user=phone>\r\n\
From: Alice <sip:+14255550123@atlanta.example.com>;tag=9fxced76sl\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 31862 INVITE\r\n\
Contact: <sips:alice@atlanta.example.com>\r\n",
    );
    for h in extra {
        m.push_str(h);
        m.push_str("\r\n");
    }
    if let Some(ct) = content_type {
        m.push_str("Content-Type: ");
        m.push_str(ct);
        m.push_str("\r\n");
    }
    m.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = m.into_bytes();
    bytes.extend_from_slice(body);
    Message::parse(bytes).expect("test INVITE parses")
}
