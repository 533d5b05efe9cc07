//! Facts about certificates, apart from the networking that fetched them: parsing
//! ([`facts`]), trust anchors ([`trust`]) and judging a chain ([`chain`]); for files, telling a
//! chain from a bundle ([`bundle`]). Diagnostics: weak cryptography ([`weak`]) and telling a
//! missing intermediate from an unknown issuer ([`missing`]). The client certificate and key a
//! target presents for mutual TLS ([`client_identity`]).

pub mod bundle;
pub mod chain;
pub mod client_identity;
pub mod ct;
pub mod dane;
pub mod dn;
pub mod facts;
pub mod facts_cache;
pub mod lint;
pub mod missing;
pub mod signatures;
pub mod trust;
pub mod weak;

pub use chain::{analyse, analyse_file_chain, ChainError, ChainReport};
pub use facts::CertFacts;
pub use trust::{AnchorCert, TrustStore, TrustStores};
