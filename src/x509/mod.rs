//! Facts about certificates, apart from the networking that fetched them: parsing
//! ([`facts`]), trust anchors ([`trust`]) and judging a chain ([`chain`]).

pub mod chain;
pub mod facts;
pub mod trust;

pub use chain::{analyse, ChainError, ChainReport};
pub use facts::CertFacts;
pub use trust::{TrustStore, TrustStores};
