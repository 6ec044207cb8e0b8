//! Command-line parsing shared by every command: positional arguments plus `--name value`
//! or `--name=value` options (every option takes a value and may repeat).

use std::collections::HashMap;

/// Usage errors exit with status 2, runtime errors with 1.
#[derive(Debug)]
pub enum Error {
    Usage(String),
    Runtime(String),
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }
    pub fn runtime(msg: impl Into<String>) -> Self {
        Error::Runtime(msg.into())
    }
}

pub struct Args {
    pub positional: Vec<String>,
    options: HashMap<String, Vec<String>>,
}

impl Args {
    pub fn parse(raw: &[String], allowed: &[&str]) -> Result<Args, Error> {
        let mut args = Args {
            positional: Vec::new(),
            options: HashMap::new(),
        };
        let mut i = 0;
        while i < raw.len() {
            let arg = &raw[i];
            i += 1;
            let Some(opt) = arg.strip_prefix("--") else {
                args.positional.push(arg.clone());
                continue;
            };
            let (name, value) = match opt.split_once('=') {
                Some((name, value)) => (name.to_string(), value.to_string()),
                None => {
                    let Some(value) = raw.get(i) else {
                        return Err(Error::usage(format!("option --{opt} needs a value")));
                    };
                    i += 1;
                    (opt.to_string(), value.clone())
                }
            };
            if !allowed.contains(&name.as_str()) {
                return Err(Error::usage(format!("unknown option --{name}")));
            }
            args.options.entry(name).or_default().push(value);
        }
        Ok(args)
    }

    /// Every value of a repeated option, in order.
    pub fn all(&self, name: &str) -> &[String] {
        self.options.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The last value of an option.
    pub fn last(&self, name: &str) -> Option<&str> {
        self.all(name).last().map(String::as_str)
    }

    /// The last value of an unsigned integer option, `default` when absent (unless required).
    pub fn uint(&self, name: &str, default: u64, required: bool) -> Result<u64, Error> {
        match self.last(name) {
            None if required => Err(Error::usage(format!("option --{name} is required"))),
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                Error::usage(format!(
                    "option --{name} expects an unsigned integer, got {v:?}"
                ))
            }),
        }
    }
}
