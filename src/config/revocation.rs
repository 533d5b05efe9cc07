//! The `revocation:` block of a target (or of `defaults:`): which revocation sources to consult,
//! how large a CRL may be, and whether OCSP requests carry a nonce.
//!
//! Kept in its own file so the revocation settings, their YAML form and their byte-size syntax
//! live together; [`super::resolve_settings`] only calls [`resolve`].

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Default cap on one CRL download: large enough for the biggest public CRLs (a few MiB), small
/// enough that a misconfigured distribution point cannot exhaust memory.
pub const DEFAULT_CRL_MAX_BYTES: u64 = 20 * 1024 * 1024;

/// What revocation checking a target gets, with every default applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RevocationSettings {
    /// Verify a stapled OCSP response and ask the leaf's OCSP responder.
    pub ocsp: bool,
    /// Download and check the CRLs named by the path's certificates.
    pub crl: bool,
    /// The most bytes one CRL download may have.
    pub crl_max_bytes: u64,
    /// Send a nonce with every OCSP request to a responder (POSTed, never cached): proves the
    /// answer is fresh when the responder echoes it, at one request per probe and certificate.
    pub ocsp_nonce: bool,
}

impl Default for RevocationSettings {
    fn default() -> Self {
        RevocationSettings {
            ocsp: true,
            crl: true,
            crl_max_bytes: DEFAULT_CRL_MAX_BYTES,
            ocsp_nonce: false,
        }
    }
}

/// `revocation:` as written; every key optional so a target can switch off one source and
/// inherit the rest from `defaults:`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRevocation {
    /// Whether stapled OCSP responses and the leaf's OCSP responder are consulted (default on).
    pub ocsp: Option<bool>,
    /// Whether the CRLs the path's certificates name are downloaded and checked (default on).
    pub crl: Option<bool>,
    /// The most bytes one CRL download may have (`20MiB`, `1048576`, …); a larger CRL is
    /// `too_large`. [`DEFAULT_CRL_MAX_BYTES`] when unset.
    pub crl_max_bytes: Option<ByteSize>,
    /// Whether OCSP requests to responders carry a nonce (default off; see
    /// [`RevocationSettings::ocsp_nonce`]).
    pub ocsp_nonce: Option<bool>,
}

/// The target's settings over the defaults' over the built-in defaults, key by key. A block
/// that asks for a nonce while switching OCSP off is refused: one of the two is a mistake.
pub fn resolve(
    defaults: Option<&RawRevocation>,
    target: Option<&RawRevocation>,
) -> Result<RevocationSettings, String> {
    for block in [defaults, target].into_iter().flatten() {
        if block.ocsp == Some(false) && block.ocsp_nonce == Some(true) {
            return Err(
                "revocation.ocsp_nonce: a nonce needs OCSP, which this block switches off (ocsp: false)"
                    .into(),
            );
        }
    }
    let builtin = RevocationSettings::default();
    let pick =
        |f: fn(&RawRevocation) -> Option<bool>| target.and_then(f).or_else(|| defaults.and_then(f));
    Ok(RevocationSettings {
        ocsp: pick(|r| r.ocsp).unwrap_or(builtin.ocsp),
        crl: pick(|r| r.crl).unwrap_or(builtin.crl),
        crl_max_bytes: target
            .and_then(|r| r.crl_max_bytes)
            .or_else(|| defaults.and_then(|r| r.crl_max_bytes))
            .map(|b| b.0)
            .unwrap_or(builtin.crl_max_bytes),
        ocsp_nonce: pick(|r| r.ocsp_nonce).unwrap_or(builtin.ocsp_nonce),
    })
}

/// A number of bytes, written as a plain integer (`1048576`) or with a unit: `KiB`, `MiB`, `GiB`
/// (powers of 1024) or `kB`, `MB`, `GB` (powers of 1000), with or without a space (`20MiB`,
/// `20 MiB`). Zero is rejected: a cap of nothing would make every CRL `too_large`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses the text form.
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let number: u64 = digits.parse().map_err(|_| {
            format!("{text:?} is not a size; write bytes as a number or with a unit, as in 20MiB")
        })?;
        let multiplier: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "kB" | "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            other => {
                return Err(format!(
                    "{text:?}: unknown unit {other:?}; use B, KiB, MiB, GiB, kB, MB or GB"
                ))
            }
        };
        let bytes = number
            .checked_mul(multiplier)
            .ok_or_else(|| format!("{text:?} is too large"))?;
        ByteSize::nonzero(bytes)
    }

    fn nonzero(bytes: u64) -> Result<ByteSize, String> {
        if bytes == 0 {
            Err("must be greater than zero".into())
        } else {
            Ok(ByteSize(bytes))
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ByteSize, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes, as a number or with a unit (20MiB)")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                ByteSize::nonzero(v).map_err(E::custom)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("must be greater than zero"))
                    .and_then(|v| ByteSize::nonzero(v).map_err(E::custom))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn target_settings(yaml: &str) -> RevocationSettings {
        Config::parse(yaml).expect("valid config").targets[0].revocation
    }

    #[test]
    fn both_sources_on_by_default() {
        let s = target_settings("targets:\n  - address: a.example:443\n");
        assert_eq!(s, RevocationSettings::default());
        assert!(s.ocsp && s.crl);
        assert_eq!(s.crl_max_bytes, 20 * 1024 * 1024);
    }

    #[test]
    fn target_keys_override_defaults_one_by_one() {
        let s = target_settings(
            "defaults:\n  revocation: {ocsp: false, crl_max_bytes: 1MiB}\ntargets:\n  - address: a.example:443\n    revocation: {crl: false}\n",
        );
        assert_eq!(
            s,
            RevocationSettings {
                ocsp: false,
                crl: false,
                crl_max_bytes: 1 << 20,
                ocsp_nonce: false,
            }
        );
        let s = target_settings(
            "defaults:\n  revocation: {ocsp: false}\ntargets:\n  - address: a.example:443\n    revocation: {ocsp: true, crl_max_bytes: 4096}\n",
        );
        assert!(s.ocsp && s.crl);
        assert_eq!(s.crl_max_bytes, 4096);
    }

    #[test]
    fn the_nonce_is_off_by_default_and_inherited_key_by_key() {
        assert!(!target_settings("targets:\n  - address: a.example:443\n").ocsp_nonce);
        let s = target_settings(
            "defaults:\n  revocation: {ocsp_nonce: true}\ntargets:\n  - address: a.example:443\n    revocation: {crl: false}\n",
        );
        assert!(s.ocsp_nonce && s.ocsp && !s.crl);
        let s = target_settings(
            "defaults:\n  revocation: {ocsp_nonce: true}\ntargets:\n  - address: a.example:443\n    revocation: {ocsp_nonce: false}\n",
        );
        assert!(!s.ocsp_nonce);
    }

    #[test]
    fn sizes_with_and_without_units() {
        for (text, bytes) in [
            ("1", 1),
            ("1024", 1024),
            ("20MiB", 20 << 20),
            ("20 MiB", 20 << 20),
            ("3KiB", 3072),
            ("1GiB", 1 << 30),
            ("5kB", 5000),
            ("2MB", 2_000_000),
            ("7B", 7),
        ] {
            assert_eq!(ByteSize::parse(text), Ok(ByteSize(bytes)), "{text}");
        }
        for bad in [
            "",
            "MiB",
            "0",
            "0MiB",
            "-1",
            "1.5MiB",
            "20 parsecs",
            "99999999999GiB",
        ] {
            assert!(ByteSize::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn a_nonce_with_ocsp_switched_off_is_refused_with_its_place() {
        let e = Config::parse(
            "targets:\n  - address: a.example:443\n    revocation: {ocsp: false, ocsp_nonce: true}\n",
        )
        .expect_err("contradiction")
        .to_string();
        assert!(
            e.contains("revocation.ocsp_nonce: a nonce needs OCSP"),
            "{e}"
        );
        assert!(e.contains("line 2"), "{e}");
        // Switched off for one target under defaults that ask for a nonce: no contradiction.
        let s = target_settings(
            "defaults:\n  revocation: {ocsp_nonce: true}\ntargets:\n  - address: a.example:443\n    revocation: {ocsp: false}\n",
        );
        assert!(!s.ocsp);
    }

    #[test]
    fn bad_values_name_line_and_field() {
        for (yaml, needle) in [
            (
                "targets:\n  - address: a.example:443\n    revocation: {crl_max_bytes: 0}\n",
                "greater than zero",
            ),
            (
                "targets:\n  - address: a.example:443\n    revocation: {crl_max_bytes: lots}\n",
                "not a size",
            ),
            (
                "targets:\n  - address: a.example:443\n    revocation: {crl_max_bytes: 3 furlongs}\n",
                "unknown unit",
            ),
            (
                "targets:\n  - address: a.example:443\n    revocation: {ocps: false}\n",
                "ocps",
            ),
            (
                "targets:\n  - address: a.example:443\n    revocation: {ocsp: maybe}\n",
                "line 3",
            ),
            (
                "targets:\n  - address: a.example:443\n    revocation: {ocsp_nonce: yes please}\n",
                "line 3",
            ),
        ] {
            let e = Config::parse(yaml).expect_err(yaml).to_string();
            assert!(e.contains(needle), "{yaml:?} gave {e:?}");
            assert!(e.contains("line 3"), "{yaml:?} gave {e:?} without its line");
        }
    }
}
