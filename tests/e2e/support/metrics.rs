//! Parsing the Prometheus text exposition `/metrics` serves into samples a test can query.

use std::collections::BTreeMap;

/// One parsed sample.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed `/metrics` text.
pub struct Metrics {
    pub text: String,
    pub samples: Vec<Sample>,
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(parse_sample)
            .collect();
        Metrics {
            text: text.to_string(),
            samples,
        }
    }

    /// Samples of `name` whose labels include all of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the single sample matching; `None` when absent; panics when ambiguous.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.find(name, labels);
        assert!(
            found.len() <= 1,
            "{name} {labels:?} matches {} samples:\n{found:#?}",
            found.len()
        );
        found.first().map(|s| s.value)
    }

    /// The value, which must be present.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?} in:\n{}", self.text))
    }

    /// The `reason` labels of `name` for a target, sorted.
    pub fn reasons(&self, name: &str, target: &str) -> Vec<String> {
        self.reasons_where(name, &[("target", target)])
    }

    /// The `reason` labels of the samples of `name` whose labels include all of `labels`,
    /// sorted.
    pub fn reasons_where(&self, name: &str, labels: &[(&str, &str)]) -> Vec<String> {
        let mut r: Vec<String> = self
            .find(name, labels)
            .iter()
            .filter_map(|s| s.labels.get("reason").cloned())
            .collect();
        r.sort();
        r
    }
}

fn parse_sample(line: &str) -> Sample {
    let (name_end, labels, rest) = match line.find('{') {
        Some(open) => {
            let mut labels = BTreeMap::new();
            let bytes = line.as_bytes();
            let mut i = open + 1;
            while bytes[i] != b'}' {
                let eq = line[i..].find('=').expect("=") + i;
                let key = line[i..eq].trim_start_matches(',').to_string();
                let mut j = eq + 2; // skip ="
                let mut value = String::new();
                while bytes[j] != b'"' {
                    if bytes[j] == b'\\' {
                        j += 1;
                        value.push(match bytes[j] {
                            b'n' => '\n',
                            c => c as char,
                        });
                    } else {
                        let ch = line[j..].chars().next().expect("char");
                        value.push(ch);
                        j += ch.len_utf8() - 1;
                    }
                    j += 1;
                }
                labels.insert(key, value);
                i = j + 1;
                if bytes[i] == b',' {
                    i += 1;
                }
            }
            (open, labels, &line[i + 1..])
        }
        None => {
            let sp = line.find(' ').expect("space");
            (sp, BTreeMap::new(), &line[sp..])
        }
    };
    let value = rest.split_whitespace().next().expect("value");
    Sample {
        name: line[..name_end].to_string(),
        labels,
        value: match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or(f64::NAN),
        },
    }
}
