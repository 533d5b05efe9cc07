//! Java keystores, JKS (magic `0xFEEDFEED`) and JCEKS (`0xCECECECE`): the certificates of every
//! entry, read without I/O and without decrypting anything.
//!
//! Both formats are a big-endian list of entries after a 12-byte header (magic, version 1 or 2,
//! entry count), closed by a keyed SHA-1 digest of everything before it:
//! `SHA-1(password as UTF-16BE ‖ "Mighty Aphrodite" ‖ file)`. An entry is a tag, its alias
//! (Java's modified UTF-8 with a 16-bit length), a creation time in milliseconds, then
//!
//! - tag 1, a **key entry**: the encrypted private key (length-prefixed; skipped, never
//!   decrypted: the certificates are stored in the clear) and its certificate chain, leaf first;
//! - tag 2, a **trusted-certificate entry**: one certificate;
//! - tag 3 (JCEKS only), a **secret-key entry**: a Java-serialized sealed key with no
//!   certificate, which has no length of its own, so [`skip_java_object`] walks the
//!   serialization grammar (bounded in depth and handles) to find the next entry.
//!
//! Version 2 writes the certificate type (`X.509`) before each certificate; version 1 does not.
//! The structure is checked first (a truncated or damaged keystore is `file_malformed`, whatever
//! the password), then the digest with the password when one is configured (a mismatch is
//! `keystore_password`). Without `password_file` the certificates are read unverified, as
//! `keytool -list` does without `-storepass`.

use aws_lc_rs::digest;
use rustls_pki_types::CertificateDer;

use super::formats::DecodeError;

/// The first four bytes of a JKS keystore.
pub const JKS_MAGIC: [u8; 4] = [0xfe, 0xed, 0xfe, 0xed];
/// The first four bytes of a JCEKS keystore.
pub const JCEKS_MAGIC: [u8; 4] = [0xce, 0xce, 0xce, 0xce];

/// The SHA-1 digest that closes the file.
const DIGEST_LEN: usize = 20;
/// What Java's keystores key their digest with, after the password.
const WHITENER: &[u8] = b"Mighty Aphrodite";

/// The certificates of a keystore, in reporting order: the first key entry's chain (leaf
/// first), the other key entries' chains, then the trusted certificates, each certificate once.
pub fn certificates(
    bytes: &[u8],
    password: Option<&str>,
) -> Result<Vec<CertificateDer<'static>>, DecodeError> {
    let name = match bytes.get(..4) {
        Some(m) if m == JKS_MAGIC => "JKS",
        Some(m) if m == JCEKS_MAGIC => "JCEKS",
        _ => return Err(malformed("JKS", "not a Java keystore (bad magic)")),
    };
    let jceks = name == "JCEKS";
    let mut r = Reader { bytes, at: 4 };
    let version = r.u32().ok_or_else(|| malformed(name, "truncated header"))?;
    if version != 1 && version != 2 {
        return Err(malformed(name, &format!("unknown version {version}")));
    }
    let count = r.u32().ok_or_else(|| malformed(name, "truncated header"))?;
    let mut chains: Vec<Vec<CertificateDer<'static>>> = Vec::new();
    let mut trusted = Vec::new();
    for i in 0..count {
        let entry = i + 1;
        let at = |what: &str| malformed(name, &format!("entry #{entry}: {what}"));
        let tag = r.u32().ok_or_else(|| at("truncated"))?;
        r.utf().ok_or_else(|| at("truncated alias"))?;
        r.take(8).ok_or_else(|| at("truncated date"))?;
        match tag {
            1 => {
                let key_len = r.u32().ok_or_else(|| at("truncated key"))?;
                r.take(key_len as usize)
                    .ok_or_else(|| at("truncated key"))?;
                let n = r.u32().ok_or_else(|| at("truncated chain"))?;
                let mut chain = Vec::new();
                for _ in 0..n {
                    chain.push(
                        r.certificate(version)
                            .ok_or_else(|| at("truncated chain"))?,
                    );
                }
                chains.push(chain);
            }
            2 => trusted.push(
                r.certificate(version)
                    .ok_or_else(|| at("truncated certificate"))?,
            ),
            3 if jceks => {
                skip_java_object(&mut r).map_err(|e| at(&format!("secret key: {e}")))?;
            }
            tag => return Err(at(&format!("unknown entry type {tag}"))),
        }
    }
    let body_len = r.at;
    if bytes.len() - body_len != DIGEST_LEN {
        return Err(malformed(
            name,
            &format!(
                "{} bytes after the {count} entries, where the {DIGEST_LEN}-byte digest should be",
                bytes.len() - body_len
            ),
        ));
    }
    if let Some(password) = password {
        let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
        for unit in password.encode_utf16() {
            ctx.update(&unit.to_be_bytes());
        }
        ctx.update(WHITENER);
        ctx.update(&bytes[..body_len]);
        if ctx.finish().as_ref() != &bytes[body_len..] {
            return Err(DecodeError::KeystorePassword(format!(
                "{name} integrity check failed: wrong password (or a tampered keystore)"
            )));
        }
    }
    let mut certs: Vec<CertificateDer<'static>> = Vec::new();
    for cert in chains.into_iter().flatten().chain(trusted) {
        if !certs.contains(&cert) {
            certs.push(cert);
        }
    }
    Ok(certs)
}

fn malformed(name: &str, what: &str) -> DecodeError {
    DecodeError::Malformed(format!("{name} keystore: {what}"))
}

/// A bounds-checked cursor; every read is `None` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        Some(u64::from_be_bytes(b.try_into().ok()?))
    }

    /// A modified UTF-8 string with a 16-bit length, returned as raw bytes.
    fn utf(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }

    /// A certificate: (version 2) its type, then its length-prefixed encoding.
    fn certificate(&mut self, version: u32) -> Option<CertificateDer<'static>> {
        if version == 2 {
            self.utf()?;
        }
        let n = self.u32()? as usize;
        Some(CertificateDer::from(self.take(n)?.to_vec()))
    }
}

/// How deep a serialized object may nest, and how many handles it may define, before it is
/// refused: a sealed key is two levels and a dozen handles deep.
const MAX_DEPTH: usize = 16;
const MAX_HANDLES: usize = 4096;

/// What a serialization handle stands for, as far as skipping needs to know.
#[derive(Clone)]
enum Handle {
    /// A class description: index into the descriptions.
    Class(usize),
    /// Anything else (an object, a string, an array).
    Other,
}

/// A class description: its name (arrays are told by it), flags, field type codes and
/// superclass.
struct ClassDesc {
    name: Vec<u8>,
    flags: u8,
    fields: Vec<u8>,
    superclass: Option<usize>,
}

/// The state of one serialization stream.
struct Stream<'r, 'a> {
    r: &'r mut Reader<'a>,
    handles: Vec<Handle>,
    classes: Vec<ClassDesc>,
}

const TC_NULL: u8 = 0x70;
const TC_REFERENCE: u8 = 0x71;
const TC_CLASSDESC: u8 = 0x72;
const TC_OBJECT: u8 = 0x73;
const TC_STRING: u8 = 0x74;
const TC_ARRAY: u8 = 0x75;
const TC_CLASS: u8 = 0x76;
const TC_BLOCKDATA: u8 = 0x77;
const TC_ENDBLOCKDATA: u8 = 0x78;
const TC_LONGSTRING: u8 = 0x7c;
const TC_BLOCKDATALONG: u8 = 0x7a;
const TC_ENUM: u8 = 0x7e;
const BASE_HANDLE: u32 = 0x7e_0000;
const SC_WRITE_METHOD: u8 = 0x01;
const SC_EXTERNALIZABLE: u8 = 0x04;
const SC_BLOCK_DATA: u8 = 0x08;

/// Skips one Java serialization stream holding one object (a JCEKS secret key), leaving `r`
/// after it. Walks the grammar of the Java Object Serialization Specification §6.4 for what a
/// sealed key uses — objects, class descriptions, strings, arrays, enums, block data — and
/// refuses the rest (proxy classes, exceptions, resets) rather than guess.
fn skip_java_object(r: &mut Reader<'_>) -> Result<(), String> {
    let truncated = || "truncated".to_string();
    let magic = r.u16().ok_or_else(truncated)?;
    let version = r.u16().ok_or_else(truncated)?;
    if magic != 0xaced || version != 5 {
        return Err(format!(
            "not a Java serialization stream ({magic:04x} {version})"
        ));
    }
    let mut stream = Stream {
        r,
        handles: Vec::new(),
        classes: Vec::new(),
    };
    stream.content(0).map(|_| ())
}

impl Stream<'_, '_> {
    fn truncated() -> String {
        "truncated".to_string()
    }

    fn new_handle(&mut self, handle: Handle) -> Result<(), String> {
        if self.handles.len() >= MAX_HANDLES {
            return Err(format!("more than {MAX_HANDLES} serialized handles"));
        }
        self.handles.push(handle);
        Ok(())
    }

    fn reference(&mut self) -> Result<Handle, String> {
        let h = self.r.u32().ok_or_else(Self::truncated)?;
        h.checked_sub(BASE_HANDLE)
            .and_then(|i| self.handles.get(i as usize))
            .cloned()
            .ok_or_else(|| format!("reference to unknown handle {h:#x}"))
    }

    /// One content element; returns the class it is, when it is a class description (or a
    /// reference to one).
    fn content(&mut self, depth: usize) -> Result<Option<usize>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        let tc = self.r.u8().ok_or_else(Self::truncated)?;
        match tc {
            TC_NULL => Ok(None),
            TC_REFERENCE => match self.reference()? {
                Handle::Class(i) => Ok(Some(i)),
                Handle::Other => Ok(None),
            },
            TC_CLASSDESC => self.class_desc_body(depth).map(Some),
            TC_STRING => {
                self.r.utf().ok_or_else(Self::truncated)?;
                self.new_handle(Handle::Other)?;
                Ok(None)
            }
            TC_LONGSTRING => {
                let n = self.r.u64().ok_or_else(Self::truncated)?;
                let n = usize::try_from(n).map_err(|_| Self::truncated())?;
                self.r.take(n).ok_or_else(Self::truncated)?;
                self.new_handle(Handle::Other)?;
                Ok(None)
            }
            TC_OBJECT => {
                let class = self.class_desc(depth)?;
                self.new_handle(Handle::Other)?;
                self.class_data(class, depth)?;
                Ok(None)
            }
            TC_ARRAY => {
                let class = self.class_desc(depth)?.ok_or("an array without a class")?;
                self.new_handle(Handle::Other)?;
                let element = *self.classes[class].name.get(1).ok_or("a bad array class")?;
                let n = self.r.u32().ok_or_else(Self::truncated)? as usize;
                match primitive_size(element) {
                    Some(size) => {
                        let len = n.checked_mul(size).ok_or_else(Self::truncated)?;
                        self.r.take(len).ok_or_else(Self::truncated)?;
                    }
                    None => {
                        // Each element takes at least a byte, so the file bounds this loop.
                        for _ in 0..n {
                            self.content(depth + 1)?;
                        }
                    }
                }
                Ok(None)
            }
            TC_CLASS => {
                self.class_desc(depth)?;
                self.new_handle(Handle::Other)?;
                Ok(None)
            }
            TC_ENUM => {
                self.class_desc(depth)?;
                self.new_handle(Handle::Other)?;
                self.content(depth + 1)?;
                Ok(None)
            }
            TC_BLOCKDATA => {
                let n = self.r.u8().ok_or_else(Self::truncated)? as usize;
                self.r.take(n).ok_or_else(Self::truncated)?;
                Ok(None)
            }
            TC_BLOCKDATALONG => {
                let n = self.r.u32().ok_or_else(Self::truncated)? as usize;
                self.r.take(n).ok_or_else(Self::truncated)?;
                Ok(None)
            }
            other => Err(format!("unsupported serialization element {other:#04x}")),
        }
    }

    /// A class description where one is expected: new, a reference, or null.
    fn class_desc(&mut self, depth: usize) -> Result<Option<usize>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        match self.r.u8().ok_or_else(Self::truncated)? {
            TC_NULL => Ok(None),
            TC_CLASSDESC => self.class_desc_body(depth).map(Some),
            TC_REFERENCE => match self.reference()? {
                Handle::Class(i) => Ok(Some(i)),
                Handle::Other => Err("a reference to a non-class where a class belongs".into()),
            },
            other => Err(format!("unsupported class description {other:#04x}")),
        }
    }

    /// After `TC_CLASSDESC`: name, serialVersionUID, handle, flags, fields, annotation,
    /// superclass.
    fn class_desc_body(&mut self, depth: usize) -> Result<usize, String> {
        let name = self.r.utf().ok_or_else(Self::truncated)?.to_vec();
        self.r.take(8).ok_or_else(Self::truncated)?;
        let index = self.classes.len();
        self.classes.push(ClassDesc {
            name,
            flags: 0,
            fields: Vec::new(),
            superclass: None,
        });
        self.new_handle(Handle::Class(index))?;
        let flags = self.r.u8().ok_or_else(Self::truncated)?;
        let n = self.r.u16().ok_or_else(Self::truncated)?;
        let mut fields = Vec::new();
        for _ in 0..n {
            let code = self.r.u8().ok_or_else(Self::truncated)?;
            self.r.utf().ok_or_else(Self::truncated)?;
            if primitive_size(code).is_none() {
                if code != b'[' && code != b'L' {
                    return Err(format!("unknown field type {code:#04x}"));
                }
                // The field's class name, a string or a reference to one.
                self.content(depth + 1)?;
            }
            fields.push(code);
        }
        self.annotation(depth)?;
        let superclass = self.class_desc(depth + 1)?;
        let class = &mut self.classes[index];
        class.flags = flags;
        class.fields = fields;
        class.superclass = superclass;
        Ok(index)
    }

    /// Contents up to `TC_ENDBLOCKDATA`.
    fn annotation(&mut self, depth: usize) -> Result<(), String> {
        loop {
            if self.r.bytes.get(self.r.at) == Some(&TC_ENDBLOCKDATA) {
                self.r.at += 1;
                return Ok(());
            }
            self.content(depth + 1)?;
        }
    }

    /// The field values of an object of `class`, superclass first.
    fn class_data(&mut self, class: Option<usize>, depth: usize) -> Result<(), String> {
        let mut lineage = Vec::new();
        let mut next = class;
        while let Some(i) = next {
            if lineage.len() > MAX_DEPTH || lineage.contains(&i) {
                return Err("a class hierarchy too deep or looping".into());
            }
            lineage.push(i);
            next = self.classes[i].superclass;
        }
        for &i in lineage.iter().rev() {
            let flags = self.classes[i].flags;
            if flags & SC_EXTERNALIZABLE != 0 {
                if flags & SC_BLOCK_DATA == 0 {
                    return Err("an externalizable object without block data".into());
                }
                self.annotation(depth)?;
                continue;
            }
            let fields = self.classes[i].fields.clone();
            for code in fields {
                match primitive_size(code) {
                    Some(size) => {
                        self.r.take(size).ok_or_else(Self::truncated)?;
                    }
                    None => {
                        self.content(depth + 1)?;
                    }
                }
            }
            if flags & SC_WRITE_METHOD != 0 {
                self.annotation(depth)?;
            }
        }
        Ok(())
    }
}

/// The size of a primitive field or array element by its type code; `None` for objects.
fn primitive_size(code: u8) -> Option<usize> {
    match code {
        b'B' | b'Z' => Some(1),
        b'C' | b'S' => Some(2),
        b'I' | b'F' => Some(4),
        b'J' | b'D' => Some(8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keystore written the way Java writes one, with the digest keyed by `password`.
    fn store(magic: [u8; 4], version: u32, entries: &[Vec<u8>], password: &str) -> Vec<u8> {
        let mut out = magic.to_vec();
        out.extend(version.to_be_bytes());
        out.extend((entries.len() as u32).to_be_bytes());
        for e in entries {
            out.extend(e);
        }
        let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
        for unit in password.encode_utf16() {
            ctx.update(&unit.to_be_bytes());
        }
        ctx.update(WHITENER);
        ctx.update(&out);
        out.extend(ctx.finish().as_ref());
        out
    }

    fn head(tag: u32, alias: &str) -> Vec<u8> {
        let mut e = tag.to_be_bytes().to_vec();
        e.extend((alias.len() as u16).to_be_bytes());
        e.extend(alias.as_bytes());
        e.extend(0u64.to_be_bytes());
        e
    }

    fn cert(version: u32, der: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        if version == 2 {
            e.extend(5u16.to_be_bytes());
            e.extend(b"X.509");
        }
        e.extend((der.len() as u32).to_be_bytes());
        e.extend(der);
        e
    }

    fn trusted(version: u32, alias: &str, der: &[u8]) -> Vec<u8> {
        let mut e = head(2, alias);
        e.extend(cert(version, der));
        e
    }

    fn key(version: u32, alias: &str, chain: &[&[u8]]) -> Vec<u8> {
        let mut e = head(1, alias);
        e.extend(3u32.to_be_bytes());
        e.extend([9, 9, 9]);
        e.extend((chain.len() as u32).to_be_bytes());
        for c in chain {
            e.extend(cert(version, c));
        }
        e
    }

    /// A JCEKS secret key entry as keytool writes it (captured from `keytool -genseckey`,
    /// shortened: the class descriptions with their references, a byte array, two strings).
    fn secret(alias: &str) -> Vec<u8> {
        let mut e = head(3, alias);
        let mut s = vec![0xac, 0xed, 0x00, 0x05, TC_OBJECT, TC_CLASSDESC];
        let utf = |s: &mut Vec<u8>, text: &str| {
            s.extend((text.len() as u16).to_be_bytes());
            s.extend(text.as_bytes());
        };
        utf(
            &mut s,
            "com.sun.crypto.provider.SealedObjectForKeyProtector",
        );
        s.extend([1; 8]);
        s.extend([0x02, 0, 0, TC_ENDBLOCKDATA, TC_CLASSDESC]);
        utf(&mut s, "javax.crypto.SealedObject");
        s.extend([2; 8]);
        s.extend([0x02, 0, 3]);
        s.push(b'[');
        utf(&mut s, "encodedParams");
        s.push(TC_STRING);
        utf(&mut s, "[B");
        s.push(b'[');
        utf(&mut s, "encryptedContent");
        s.push(TC_REFERENCE);
        s.extend((BASE_HANDLE + 2).to_be_bytes());
        s.push(b'L');
        utf(&mut s, "sealAlg");
        s.push(TC_STRING);
        utf(&mut s, "Ljava/lang/String;");
        s.extend([TC_ENDBLOCKDATA, TC_NULL]);
        // Values: encodedParams (a new array class), encryptedContent (a reference to it),
        // sealAlg.
        s.extend([TC_ARRAY, TC_CLASSDESC]);
        utf(&mut s, "[B");
        s.extend([3; 8]);
        s.extend([0x02, 0, 0, TC_ENDBLOCKDATA, TC_NULL]);
        s.extend(4u32.to_be_bytes());
        s.extend([1, 2, 3, 4]);
        s.push(TC_ARRAY);
        s.push(TC_REFERENCE);
        s.extend((BASE_HANDLE + 5).to_be_bytes());
        s.extend(2u32.to_be_bytes());
        s.extend([5, 6]);
        s.push(TC_STRING);
        utf(&mut s, "PBEWithMD5AndTripleDES");
        e.extend(s);
        e
    }

    const A: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x01];
    const B: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x02];
    const C: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x03];

    fn ders<'a>(certs: &'a [CertificateDer<'static>]) -> Vec<&'a [u8]> {
        certs.iter().map(|c| c.as_ref()).collect()
    }

    #[test]
    fn key_chains_come_first_then_trusted_certificates_each_once() {
        for version in [1, 2] {
            let bytes = store(
                JKS_MAGIC,
                version,
                &[
                    trusted(version, "ca", C),
                    key(version, "server", &[A, B]),
                    trusted(version, "dup", B),
                ],
                "changeit",
            );
            let certs = certificates(&bytes, Some("changeit")).unwrap();
            assert_eq!(ders(&certs), [A, B, C], "version {version}");
            // Without a password, read unverified.
            assert_eq!(certificates(&bytes, None).unwrap().len(), 3);
        }
    }

    #[test]
    fn the_wrong_password_fails_the_digest() {
        let bytes = store(JKS_MAGIC, 2, &[trusted(2, "ca", A)], "changeit");
        let e = certificates(&bytes, Some("guess")).unwrap_err();
        assert_eq!(e.reason().as_str(), "keystore_password", "{e:?}");
        let e = certificates(&bytes, Some("")).unwrap_err();
        assert_eq!(e.reason().as_str(), "keystore_password", "{e:?}");
    }

    #[test]
    fn a_truncated_keystore_is_malformed_whatever_the_password() {
        let bytes = store(JKS_MAGIC, 2, &[key(2, "k", &[A, B])], "changeit");
        for cut in [
            0,
            3,
            11,
            20,
            bytes.len() / 2,
            bytes.len() - 21,
            bytes.len() - 1,
        ] {
            let e = certificates(&bytes[..cut], Some("changeit")).unwrap_err();
            assert_eq!(e.reason().as_str(), "file_malformed", "cut at {cut}: {e:?}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let e = certificates(&longer, Some("changeit")).unwrap_err();
        assert_eq!(e.reason().as_str(), "file_malformed", "{e:?}");
    }

    #[test]
    fn lengths_past_the_end_and_unknown_tags_are_refused() {
        let mut huge = head(2, "x");
        huge.extend(5u16.to_be_bytes());
        huge.extend(b"X.509");
        huge.extend(u32::MAX.to_be_bytes());
        let bytes = store(JKS_MAGIC, 2, &[huge], "p");
        assert!(matches!(
            certificates(&bytes, None),
            Err(DecodeError::Malformed(_))
        ));
        let bytes = store(JKS_MAGIC, 2, &[head(7, "x")], "p");
        let e = certificates(&bytes, None).unwrap_err();
        assert!(e.detail().contains("unknown entry type 7"), "{e:?}");
        // A secret key entry is JCEKS only.
        let bytes = store(JKS_MAGIC, 2, &[secret("s")], "p");
        assert!(certificates(&bytes, None).is_err());
        let bytes = store(JKS_MAGIC, 3, &[], "p");
        assert!(certificates(&bytes, None).is_err());
    }

    #[test]
    fn jceks_secret_keys_are_skipped_to_the_entries_after_them() {
        let bytes = store(
            JCEKS_MAGIC,
            2,
            &[
                secret("s1"),
                key(2, "k", &[A]),
                secret("s2"),
                trusted(2, "t", B),
            ],
            "changeit",
        );
        let certs = certificates(&bytes, Some("changeit")).unwrap();
        assert_eq!(ders(&certs), [A, B]);
        // A serialized object cut short, or one nested without end, is refused.
        let mut cut = secret("s");
        cut.truncate(cut.len() - 5);
        let bytes = store(JCEKS_MAGIC, 2, &[cut], "p");
        assert!(matches!(
            certificates(&bytes, None),
            Err(DecodeError::Malformed(_))
        ));
        let mut deep = head(3, "d");
        deep.extend([0xac, 0xed, 0, 5]);
        deep.extend(std::iter::repeat_n(TC_ENUM, 64));
        let bytes = store(JCEKS_MAGIC, 2, &[deep], "p");
        let e = certificates(&bytes, None).unwrap_err();
        assert!(e.detail().contains("secret key"), "{e:?}");
    }

    /// keytool's own stores (the fuzz seeds): a truststore, and a JCEKS store holding a secret
    /// key and a trusted certificate.
    const TRUST_JKS: &[u8] = include_bytes!("../../../fuzz/seeds/file_formats/trust.jks");
    const SECRET_JCEKS: &[u8] = include_bytes!("../../../fuzz/seeds/file_formats/secret.jceks");

    #[test]
    fn keytool_stores_read_and_every_cut_or_flipped_byte_is_refused_without_a_panic() {
        for store in [TRUST_JKS, SECRET_JCEKS] {
            assert_eq!(certificates(store, Some("changeit")).unwrap().len(), 1);
            for cut in 0..store.len() {
                let e = certificates(&store[..cut], Some("changeit")).unwrap_err();
                assert_eq!(e.reason().as_str(), "file_malformed", "cut at {cut}: {e:?}");
            }
            for i in 0..store.len() {
                let mut flipped = store.to_vec();
                flipped[i] ^= 0x5a;
                // Structure errors or a digest mismatch, never a panic or a silent success.
                assert!(
                    certificates(&flipped, Some("changeit")).is_err(),
                    "byte {i}"
                );
            }
        }
    }
}
