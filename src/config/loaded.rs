//! A configuration with everything loaded that can fail: the config file and the CA files it
//! names. Built whole or not at all, so a failed reload leaves the running one in force.

use std::path::Path;

use crate::x509::TrustStores;

use super::{Config, ConfigError};

/// A configuration with everything loaded that can fail: the config file and its CA files.
#[derive(Clone)]
pub struct Loaded {
    /// The validated configuration file.
    pub config: Config,
    /// One trust store per `ca_file` of the targets and `/probe` modules, read now so that an
    /// unreadable CA file fails the load instead of every probe.
    pub trust: TrustStores,
}

impl Loaded {
    /// Reads the config file and the files it names. Any error leaves nothing changed.
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let config = Config::load(path)?;
        let ca_files = config
            .targets
            .iter()
            .filter_map(|t| t.ca_file.as_deref())
            .chain(config.on_demand.ca_files());
        let trust = TrustStores::load(ca_files).map_err(|message| ConfigError {
            file: path.display().to_string(),
            message: format!("ca_file: {message}"),
        })?;
        Ok(Loaded { config, trust })
    }
}
