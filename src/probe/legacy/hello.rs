//! The one message the legacy check writes: a TLS 1.0 or 1.1 ClientHello.
//!
//! It offers the classic cipher suites servers of that era negotiate (CBC, 3DES, RC4 — all of
//! them, as the question is whether the server speaks the version at all, not which suite is
//! good), the elliptic curves and point format those suites need, the renegotiation SCSV and SNI.
//! Nothing is ever encrypted with them: the check reads the plaintext answer and hangs up.

/// Classic cipher suites with their IANA names, strongest first, the way clients of the time
/// ordered them. The server can only choose one of these, so every answer has a name.
pub const CIPHER_SUITES: &[(u16, &str)] = &[
    (0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    (0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
    (0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"),
    (0xc008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    (0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
    (0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"),
    (0x0009, "TLS_RSA_WITH_DES_CBC_SHA"),
];

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV: says "I do secure renegotiation" without an extension,
/// which some servers of the era insist on.
const RENEGOTIATION_SCSV: u16 = 0x00ff;

/// The IANA name of a suite this hello offers, or its number in hex.
pub fn suite_name(id: u16) -> std::borrow::Cow<'static, str> {
    CIPHER_SUITES
        .iter()
        .find(|(known, _)| *known == id)
        .map(|(_, name)| std::borrow::Cow::Borrowed(*name))
        .unwrap_or_else(|| format!("0x{id:04X}").into())
}

/// A complete handshake record holding a ClientHello for `version` (0x0301 = TLS 1.0,
/// 0x0302 = TLS 1.1), with SNI `server_name` when it is a DNS name.
pub fn client_hello(version: u16, server_name: Option<&str>) -> Vec<u8> {
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(&version.to_be_bytes());
    // The random only has to be unique: no key is ever derived from it.
    body.extend((0..32).map(|_| fastrand::u8(..)));
    body.push(0); // no session to resume
    let suites: Vec<u16> = CIPHER_SUITES
        .iter()
        .map(|(id, _)| *id)
        .chain([RENEGOTIATION_SCSV])
        .collect();
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for id in suites {
        body.extend_from_slice(&id.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null only

    let mut extensions = Vec::new();
    if let Some(name) = server_name {
        // server_name: a list holding one host_name.
        let name = name.as_bytes();
        let mut list = vec![0u8];
        list.extend_from_slice(&(name.len() as u16).to_be_bytes());
        list.extend_from_slice(name);
        let mut sni = Vec::new();
        sni.extend_from_slice(&(list.len() as u16).to_be_bytes());
        sni.extend(list);
        push_extension(&mut extensions, 0x0000, &sni);
    }
    // supported_groups (elliptic_curves): x25519, P-256, P-384, P-521.
    push_extension(
        &mut extensions,
        0x000a,
        &[0, 8, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19],
    );
    // ec_point_formats: uncompressed.
    push_extension(&mut extensions, 0x000b, &[1, 0]);
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend(extensions);

    let mut message = vec![1u8]; // client_hello
    message.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    message.extend(body);
    // The record layer says TLS 1.0 whatever the hello offers, as clients of the era did:
    // some servers drop a first record with a newer version.
    let mut record = vec![22u8, 3, 1];
    record.extend_from_slice(&(message.len() as u16).to_be_bytes());
    record.extend(message);
    record
}

fn push_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_one_well_formed_record() {
        let record = client_hello(0x0302, Some("shop.example"));
        assert_eq!(&record[..3], &[22, 3, 1]);
        let len = u16::from_be_bytes([record[3], record[4]]) as usize;
        assert_eq!(record.len(), 5 + len);
        let msg = &record[5..];
        assert_eq!(msg[0], 1, "client_hello");
        let body_len = u32::from_be_bytes([0, msg[1], msg[2], msg[3]]) as usize;
        assert_eq!(msg.len(), 4 + body_len);
        let body = &msg[4..];
        assert_eq!(&body[..2], &[3, 2], "offers TLS 1.1");
        assert_eq!(body[34], 0, "no session id");
        let suites_len = u16::from_be_bytes([body[35], body[36]]) as usize;
        assert_eq!(suites_len, (CIPHER_SUITES.len() + 1) * 2);
        let after_suites = 37 + suites_len;
        assert_eq!(&body[after_suites..after_suites + 2], &[1, 0]);
        let ext_len = u16::from_be_bytes([body[after_suites + 2], body[after_suites + 3]]) as usize;
        assert_eq!(body.len(), after_suites + 4 + ext_len);
        let sni = b"shop.example";
        assert!(body.windows(sni.len()).any(|w| w == sni));
    }

    #[test]
    fn no_sni_without_a_name() {
        let with = client_hello(0x0301, Some("a.example"));
        let without = client_hello(0x0301, None);
        assert_eq!(with.len() - without.len(), 4 + 2 + 3 + "a.example".len());
    }

    #[test]
    fn offered_suites_have_names() {
        assert_eq!(suite_name(0xc013), "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(suite_name(0x1301), "0x1301");
    }
}
