//! LDAP (RFC 4511 §4.14): the StartTLS extended operation. The request is an LDAPMessage with
//! messageID 1 carrying ExtendedRequest `1.3.6.1.4.1.1466.20037`; the answer is an
//! ExtendedResponse whose resultCode must be 0 (success). BER is read with a length bound.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{Dialogue, MAX_LINE};
use crate::probe::reason::ProbeFailure;

/// The StartTLS OID, as the ExtendedRequest's requestName.
const STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// BER tags used here.
const SEQUENCE: u8 = 0x30;
/// BER universal tags.
const INTEGER: u8 = 0x02;
const ENUMERATED: u8 = 0x0a;
const OCTET_STRING: u8 = 0x04;
/// [APPLICATION 23], constructed: ExtendedRequest.
const EXTENDED_REQUEST: u8 = 0x77;
/// [APPLICATION 24], constructed: ExtendedResponse.
const EXTENDED_RESPONSE: u8 = 0x78;
/// [0], primitive: requestName.
const REQUEST_NAME: u8 = 0x80;

/// resultCodes that mean the server does not offer StartTLS: protocolError (2) is what servers
/// answer to an extended operation they do not know, unavailable (52) what OpenLDAP answers
/// when it has no certificate configured.
const NOT_OFFERED: [u64; 2] = [2, 52];

/// Sends the StartTLS extended request and checks the server's resultCode.
pub(super) async fn negotiate<S>(d: &mut Dialogue<S>) -> Result<(), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    d.send(&start_tls_request()).await?;
    let message = read_message(d).await?;
    let response = parse_response(&message).map_err(|e| d.failure(e))?;
    if response.message_id == 0 {
        // An unsolicited notification, such as a notice of disconnection.
        return Err(d.failure(format_args!(
            "the server sent a notice instead of an answer: resultCode {}: {:?}",
            response.result_code, response.diagnostic
        )));
    }
    if response.message_id != 1 {
        return Err(d.failure(format_args!(
            "answer to message {} instead of 1",
            response.message_id
        )));
    }
    match response.result_code {
        0 => Ok(()),
        code if NOT_OFFERED.contains(&code) => {
            Err(d.unsupported(format_args!("resultCode {code}: {:?}", response.diagnostic)))
        }
        code => Err(d.failure(format_args!("resultCode {code}: {:?}", response.diagnostic))),
    }
}

/// `LDAPMessage { messageID 1, ExtendedRequest { requestName StartTLS } }`.
fn start_tls_request() -> Vec<u8> {
    let name = tlv(REQUEST_NAME, STARTTLS_OID);
    let op = tlv(EXTENDED_REQUEST, &name);
    let mut body = tlv(INTEGER, &[1]);
    body.extend(op);
    tlv(SEQUENCE, &body)
}

/// One BER element with a short- or long-form length (the request is well under 128 bytes).
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if value.len() < 0x80 {
        out.push(value.len() as u8);
    } else {
        out.push(0x82);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(value);
    out
}

/// Reads one whole LDAPMessage (tag, length, contents) of at most [`MAX_LINE`] bytes.
async fn read_message<S>(d: &mut Dialogue<S>) -> Result<Vec<u8>, ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = d.read_exact(2).await?;
    if head[0] != SEQUENCE {
        return Err(d.failure(format_args!(
            "expected an LDAPMessage, got a byte 0x{:02x}",
            head[0]
        )));
    }
    let length = if head[1] < 0x80 {
        head[1] as usize
    } else {
        let count = (head[1] & 0x7f) as usize;
        if count == 0 || count > 4 {
            return Err(d.failure("an LDAPMessage with an unreadable length"));
        }
        d.read_exact(count)
            .await?
            .iter()
            .fold(0usize, |n, &b| (n << 8) | b as usize)
    };
    if length > MAX_LINE {
        return Err(d.failure(format_args!(
            "an LDAPMessage of {length} bytes (more than {MAX_LINE})"
        )));
    }
    d.read_exact(length).await
}

/// What matters in an ExtendedResponse.
#[derive(Debug, PartialEq, Eq)]
struct Response {
    message_id: u64,
    result_code: u64,
    diagnostic: String,
}

/// Parses the contents of an LDAPMessage holding an ExtendedResponse.
fn parse_response(message: &[u8]) -> Result<Response, String> {
    let (tag, id, rest) = element(message)?;
    if tag != INTEGER {
        return Err(format!("messageID has tag 0x{tag:02x}"));
    }
    let (tag, op, _controls) = element(rest)?;
    if tag != EXTENDED_RESPONSE {
        return Err(format!(
            "expected an ExtendedResponse, got protocolOp tag 0x{tag:02x}"
        ));
    }
    let (tag, code, rest) = element(op)?;
    if tag != ENUMERATED {
        return Err(format!("resultCode has tag 0x{tag:02x}"));
    }
    let (_, _matched_dn, rest) = element(rest)?;
    let (tag, diagnostic, _) = element(rest)?;
    if tag != OCTET_STRING {
        return Err(format!("diagnosticMessage has tag 0x{tag:02x}"));
    }
    Ok(Response {
        message_id: unsigned(id)?,
        result_code: unsigned(code)?,
        diagnostic: String::from_utf8_lossy(diagnostic).into_owned(),
    })
}

/// Splits one BER element off `input`: tag, contents, rest.
fn element(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("the answer ends early")?;
    let (&first, rest) = rest.split_first().ok_or("the answer ends early")?;
    let (length, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return Err("an element with an unreadable length".into());
        }
        let (bytes, rest) = rest.split_at(count);
        (
            bytes.iter().fold(0usize, |n, &b| (n << 8) | b as usize),
            rest,
        )
    };
    if rest.len() < length {
        return Err("an element longer than the answer".into());
    }
    let (value, rest) = rest.split_at(length);
    Ok((tag, value, rest))
}

/// A small non-negative INTEGER or ENUMERATED.
fn unsigned(bytes: &[u8]) -> Result<u64, String> {
    if bytes.is_empty() || bytes.len() > 8 || bytes[0] & 0x80 != 0 {
        return Err("a number out of range".into());
    }
    Ok(bytes.iter().fold(0u64, |n, &b| (n << 8) | b as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_the_standard_start_tls_message() {
        let mut expected = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
        expected.extend_from_slice(STARTTLS_OID);
        assert_eq!(start_tls_request(), expected);
    }

    #[test]
    fn responses_parse_with_and_without_response_name() {
        // messageID 1, ExtendedResponse { success, "", "", responseName StartTLS }
        let mut op = vec![0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00];
        op.extend(tlv(0x8a, STARTTLS_OID));
        let mut msg = tlv(INTEGER, &[1]);
        msg.extend(tlv(EXTENDED_RESPONSE, &op));
        let r = parse_response(&msg).unwrap();
        assert_eq!((r.message_id, r.result_code), (1, 0));
        let mut msg = tlv(INTEGER, &[1]);
        msg.extend(tlv(
            EXTENDED_RESPONSE,
            &[0x0a, 0x01, 0x34, 0x04, 0x00, 0x04, 0x03, b'n', b'o', b'!'],
        ));
        let r = parse_response(&msg).unwrap();
        assert_eq!((r.result_code, r.diagnostic.as_str()), (52, "no!"));
        assert!(parse_response(&[0x02, 0x05, 0x01]).is_err());
    }
}
