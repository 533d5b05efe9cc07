//! The attributes of a distinguished name, one value per kind: what `subject_fields` and
//! `issuer_fields` (a target's `metrics:` settings) turn into `subject_CN`, `issuer_O`, …
//! labels. Pure parsing of an already parsed name; the whole name stays in
//! [`super::CertFacts::subject`] as before.

use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// A kind of attribute of a distinguished name that can become a label. The names are
/// OpenSSL's short names, as x509-certificate-exporter spells them (`CN`, `O`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DnField {
    /// commonName (2.5.4.3).
    Cn,
    /// countryName (2.5.4.6).
    C,
    /// stateOrProvinceName (2.5.4.8).
    St,
    /// localityName (2.5.4.7).
    L,
    /// streetAddress (2.5.4.9).
    Street,
    /// postalCode (2.5.4.17).
    PostalCode,
    /// organizationName (2.5.4.10).
    O,
    /// organizationalUnitName (2.5.4.11).
    Ou,
    /// organizationIdentifier (2.5.4.97).
    OrganizationIdentifier,
    /// businessCategory (2.5.4.15), of EV certificates.
    BusinessCategory,
    /// jurisdictionCountryName (1.3.6.1.4.1.311.60.2.1.3), of EV certificates.
    JurisdictionC,
    /// serialNumber (2.5.4.5), the subject's (a company register number), not the
    /// certificate's.
    SerialNumber,
    /// domainComponent (0.9.2342.19200300.100.1.25).
    Dc,
    /// userId (0.9.2342.19200300.100.1.1).
    Uid,
    /// emailAddress (1.2.840.113549.1.9.1).
    EmailAddress,
}

/// Every field with its name, its dotted OID and its two label names, in the order labels are
/// written.
const FIELDS: [(DnField, &str, &str, &str, &str); 15] = [
    (DnField::Cn, "CN", "2.5.4.3", "subject_CN", "issuer_CN"),
    (DnField::C, "C", "2.5.4.6", "subject_C", "issuer_C"),
    (DnField::St, "ST", "2.5.4.8", "subject_ST", "issuer_ST"),
    (DnField::L, "L", "2.5.4.7", "subject_L", "issuer_L"),
    (
        DnField::Street,
        "street",
        "2.5.4.9",
        "subject_street",
        "issuer_street",
    ),
    (
        DnField::PostalCode,
        "postalCode",
        "2.5.4.17",
        "subject_postalCode",
        "issuer_postalCode",
    ),
    (DnField::O, "O", "2.5.4.10", "subject_O", "issuer_O"),
    (DnField::Ou, "OU", "2.5.4.11", "subject_OU", "issuer_OU"),
    (
        DnField::OrganizationIdentifier,
        "organizationIdentifier",
        "2.5.4.97",
        "subject_organizationIdentifier",
        "issuer_organizationIdentifier",
    ),
    (
        DnField::BusinessCategory,
        "businessCategory",
        "2.5.4.15",
        "subject_businessCategory",
        "issuer_businessCategory",
    ),
    (
        DnField::JurisdictionC,
        "jurisdictionC",
        "1.3.6.1.4.1.311.60.2.1.3",
        "subject_jurisdictionC",
        "issuer_jurisdictionC",
    ),
    (
        DnField::SerialNumber,
        "serialNumber",
        "2.5.4.5",
        "subject_serialNumber",
        "issuer_serialNumber",
    ),
    (
        DnField::Dc,
        "DC",
        "0.9.2342.19200300.100.1.25",
        "subject_DC",
        "issuer_DC",
    ),
    (
        DnField::Uid,
        "UID",
        "0.9.2342.19200300.100.1.1",
        "subject_UID",
        "issuer_UID",
    ),
    (
        DnField::EmailAddress,
        "emailAddress",
        "1.2.840.113549.1.9.1",
        "subject_emailAddress",
        "issuer_emailAddress",
    ),
];

impl DnField {
    /// Every field, in the order their labels are written.
    pub fn all() -> impl Iterator<Item = DnField> {
        FIELDS.iter().map(|f| f.0)
    }

    fn row(
        self,
    ) -> &'static (
        DnField,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        // FIELDS lists every variant in declaration order.
        &FIELDS[self as usize]
    }

    /// The name in the configuration (`CN`, `serialNumber`, …).
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// The field a configuration name means, spelled exactly as [`DnField::name`].
    pub fn from_name(name: &str) -> Option<DnField> {
        FIELDS.iter().find(|f| f.1 == name).map(|f| f.0)
    }

    /// The label of this field of a certificate's subject (`subject_CN`).
    pub fn subject_label(self) -> &'static str {
        self.row().3
    }

    /// The label of this field of a certificate's issuer (`issuer_CN`).
    pub fn issuer_label(self) -> &'static str {
        self.row().4
    }

    fn from_oid(dotted: &str) -> Option<DnField> {
        FIELDS.iter().find(|f| f.2 == dotted).map(|f| f.0)
    }
}

/// A set of [`DnField`]s, small enough to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DnFieldSet(u32);

impl DnFieldSet {
    /// No field.
    pub const EMPTY: DnFieldSet = DnFieldSet(0);

    /// Adds `field`; false when it was in the set already.
    pub fn insert(&mut self, field: DnField) -> bool {
        let bit = 1 << field as u32;
        let new = self.0 & bit == 0;
        self.0 |= bit;
        new
    }

    /// Whether `field` is in the set.
    pub fn contains(self, field: DnField) -> bool {
        self.0 & (1 << field as u32) != 0
    }

    /// The fields of the set, in the order their labels are written.
    pub fn iter(self) -> impl Iterator<Item = DnField> {
        DnField::all().filter(move |f| self.contains(*f))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The attributes of one name that are [`DnField`]s, each kind once: the values of an
/// attribute that occurs more than once (two `OU`s, `DC=example, DC=com`) joined with `,` in
/// the order the certificate lists them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnValues(Vec<(DnField, String)>);

impl DnValues {
    /// The known attributes of `name`; values that are not strings are written `#` and their
    /// hex, as RFC 4514 does.
    pub fn of(name: &X509Name<'_>) -> DnValues {
        let mut values = DnValues::default();
        for attr in name.iter_attributes() {
            if let Some(field) = DnField::from_oid(&attr.attr_type().to_id_string()) {
                values.push(field, &value_text(attr));
            }
        }
        values
    }

    /// The value of `field`, when the name has it.
    pub fn get(&self, field: DnField) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.as_str())
    }

    fn push(&mut self, field: DnField, value: &str) {
        match self.0.iter_mut().find(|(f, _)| *f == field) {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(value);
            }
            None => self.0.push((field, value.to_owned())),
        }
    }

    /// The fields of a name written as the tests write names, `CN=a,O=b` (no escapes).
    #[cfg(test)]
    pub(crate) fn from_test_name(name: &str) -> DnValues {
        let mut values = DnValues::default();
        for part in name.split(',').map(str::trim) {
            if let Some((key, value)) = part.split_once('=') {
                if let Some(field) = DnField::from_name(key) {
                    values.push(field, value);
                }
            }
        }
        values
    }
}

/// An attribute's value as text: the string types as they are (BMPString and UniversalString
/// decoded, TeletexString read as Latin-1), anything else `#` and the hex of its content.
fn value_text(attr: &AttributeTypeAndValue<'_>) -> String {
    if let Ok(s) = attr.as_str() {
        return s.to_owned();
    }
    let value = attr.attr_value();
    let data = value.data;
    match value.tag() {
        Tag::BmpString => char::decode_utf16(
            data.chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        Tag::UniversalString => data
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                char::from_u32(u32::from_be_bytes(b)).unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        Tag::T61String => data.iter().map(|&b| b as char).collect(),
        _ => format!("#{}", hex::encode(data)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    #[test]
    fn every_field_has_its_row() {
        for (i, field) in DnField::all().enumerate() {
            assert_eq!(field as usize, i, "FIELDS must list the variants in order");
            assert_eq!(DnField::from_name(field.name()), Some(field));
            assert_eq!(field.subject_label(), format!("subject_{}", field.name()));
            assert_eq!(field.issuer_label(), format!("issuer_{}", field.name()));
        }
        assert_eq!(DnField::from_name("cn"), None);
    }

    #[test]
    fn a_real_name_gives_its_fields() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "DE");
        dn.push(rcgen::DnType::OrganizationName, "Shop GmbH");
        dn.push(rcgen::DnType::OrganizationalUnitName, "Web");
        dn.push(rcgen::DnType::CommonName, "shop.example");
        dn.push(
            rcgen::DnType::CustomDnType(vec![2, 5, 4, 5]),
            rcgen::DnValue::PrintableString("HRB 12345".try_into().unwrap()),
        );
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(cert.der()).unwrap();
        let values = DnValues::of(parsed.subject());
        assert_eq!(values.get(DnField::Cn), Some("shop.example"));
        assert_eq!(values.get(DnField::O), Some("Shop GmbH"));
        assert_eq!(values.get(DnField::Ou), Some("Web"));
        assert_eq!(values.get(DnField::C), Some("DE"));
        assert_eq!(values.get(DnField::SerialNumber), Some("HRB 12345"));
        assert_eq!(values.get(DnField::L), None);
    }

    #[test]
    fn repeated_attributes_are_joined_in_order() {
        // rcgen keeps one value per attribute type, so the join is shown on the test form.
        let values = DnValues::from_test_name("DC=example,DC=com,CN=a");
        assert_eq!(values.get(DnField::Dc), Some("example,com"));
        assert_eq!(values.get(DnField::Cn), Some("a"));
    }

    #[test]
    fn sets_iterate_in_label_order() {
        let mut set = DnFieldSet::EMPTY;
        assert!(set.is_empty());
        assert!(set.insert(DnField::Ou));
        assert!(set.insert(DnField::Cn));
        assert!(!set.insert(DnField::Cn));
        assert_eq!(set.iter().collect::<Vec<_>>(), [DnField::Cn, DnField::Ou]);
    }
}
