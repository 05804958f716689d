//! `lossc cache dir|info|clean`: the cache of generated code that `--jit`
//! fills (`lossc_jit::cache` keeps it; this module only reports and asks).

use clap::{Args, Subcommand};
use codespan_reporting::term::termcolor::WriteColor;
use lossc_jit::{CacheEntry, CacheLocation, EntryKind, JitOptions};
use serde::Serialize;

use crate::cli::Format;
use crate::{CliError, Status, finish_output};

pub(crate) const LONG_ABOUT: &str = "\
Show or empty the cache of generated code.

`lossc bench` (and `lossc eval --jit on|auto`) compile each fused pass of a
loss with rustc into a shared library and keep it in a cache, so that the
next run loads it in milliseconds. The cache is LOSSC_JIT_CACHE, else
$XDG_CACHE_HOME/lossc/jit, else ~/.cache/lossc/jit (none without any of
them: generated code is then off). lossc creates it readable by you only,
uses it only while it is yours and no one else may write to it, checks each
library's SHA-256 before loading it, and after each compilation evicts the
least recently used libraries down to 256 MiB (LOSSC_JIT_CACHE_MAX_MB).

`dir` prints the directory, `info` what it holds and whether it can be
used, `clean` removes everything lossc keeps there (only lossc's own
entries; the directory stays) and prints what it removed and the bytes
freed. With --format json each prints one JSON object instead: `dir`;
`libraries`, `bytes`, `builds`, `failed_sources`, `legacy`, `max_bytes`,
`usable` and `why` (info); `removed` (each `path`, `kind`, `bytes`) and
`bytes_freed` (clean). See docs/performance.md.

Exit status: 0 success, 2 no cache directory, a bad LOSSC_JIT_* value, or a
file that cannot be removed.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc cache dir
  lossc cache info
  lossc cache clean
  lossc cache info --format json
  du -sh \"$(lossc cache dir)\"
  LOSSC_JIT_CACHE=/scratch/lossc-jit lossc bench examples/bce.loss
  LOSSC_JIT_CACHE_MAX_MB=64 lossc bench examples/focal.loss";

/// Options of `lossc cache`.
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,

    /// `text` (default) or `json`: one object (see `lossc help cache`).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Text, global = true)]
    pub format: Format,
}

/// What to do with the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum CacheAction {
    /// Print the cache directory.
    Dir,
    /// Print the cache directory, its entries and their size, the size cap,
    /// and whether the cache can be used.
    Info,
    /// Remove everything lossc keeps in the cache, printing each item and the
    /// bytes freed.
    Clean,
}

/// Runs `cache`: its report on `out`.
pub fn run(args: &CacheArgs, out: &mut dyn WriteColor) -> Result<Status, CliError> {
    let options = JitOptions::from_env().map_err(|error| CliError::new(error.to_string()))?;
    let location = options
        .cache
        .clone()
        .ok_or_else(|| CliError::new(lossc_jit::JitError::NoCache.to_string()))?;
    let report = match args.action {
        CacheAction::Dir => Report::Dir {
            dir: location.dir.display().to_string(),
        },
        CacheAction::Info => info(&location, &options)?,
        CacheAction::Clean => clean(&location)?,
    };
    let text = match args.format {
        Format::Text => report.text(),
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&report).map_err(|error| CliError::new(error.to_string()))?
        ),
    };
    finish_output(
        Status::Success,
        out.write_all(text.as_bytes()).and_then(|()| out.flush()),
    )
}

/// What a `cache` command found or did.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Report {
    Dir {
        dir: String,
    },
    Info {
        dir: String,
        exists: bool,
        libraries: usize,
        bytes: u64,
        builds: usize,
        failed_sources: usize,
        legacy: usize,
        max_bytes: u64,
        usable: bool,
        why: Option<String>,
    },
    Clean {
        dir: String,
        removed: Vec<Removed>,
        bytes_freed: u64,
    },
}

/// One item `clean` removed.
#[derive(Debug, Serialize)]
struct Removed {
    path: String,
    kind: &'static str,
    bytes: u64,
}

/// `info`'s findings.
fn info(location: &CacheLocation, options: &JitOptions) -> Result<Report, CliError> {
    let entries = location.entries().map_err(|error| CliError::new(error.to_string()))?;
    let count = |kind: EntryKind| entries.iter().filter(|entry| entry.kind == kind).count();
    let why = location.check().err().map(|error| error.to_string());
    Ok(Report::Info {
        dir: location.dir.display().to_string(),
        exists: location.dir.exists(),
        libraries: count(EntryKind::Library),
        bytes: entries.iter().map(|entry| entry.bytes).sum(),
        builds: count(EntryKind::Build),
        failed_sources: count(EntryKind::FailedSource),
        legacy: count(EntryKind::Legacy),
        max_bytes: options.cache_max_bytes,
        usable: why.is_none(),
        why,
    })
}

/// Removes what lossc keeps in the cache: what it removed.
fn clean(location: &CacheLocation) -> Result<Report, CliError> {
    let removed: Vec<CacheEntry> = location.clean().map_err(|error| CliError::new(error.to_string()))?;
    Ok(Report::Clean {
        dir: location.dir.display().to_string(),
        bytes_freed: removed.iter().map(|entry| entry.bytes).sum(),
        removed: removed
            .iter()
            .map(|entry| Removed {
                path: entry.path.display().to_string(),
                kind: kind_name(entry.kind),
                bytes: entry.bytes,
            })
            .collect(),
    })
}

/// An entry kind's name in the JSON.
fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Library => "library",
        EntryKind::FailedSource => "failed_source",
        EntryKind::Build => "build",
        EntryKind::Legacy => "legacy",
    }
}

impl Report {
    /// The report for people.
    fn text(&self) -> String {
        match self {
            Report::Dir { dir } => format!("{dir}\n"),
            Report::Info {
                dir,
                exists,
                libraries,
                bytes,
                builds,
                failed_sources,
                legacy,
                max_bytes,
                why,
                ..
            } => {
                let mut text = format!("cache of generated code: {dir}\n");
                if *exists {
                    text.push_str(&format!(
                        "entries: {libraries} {}, {}\n",
                        plural(*libraries, "library", "libraries"),
                        size(*bytes)
                    ));
                } else {
                    text.push_str("entries: none (the directory does not exist yet)\n");
                }
                for (count, what) in [
                    (builds, "compilations in progress or abandoned"),
                    (failed_sources, "sources of failed compilations"),
                    (legacy, "files of an earlier layout (never loaded)"),
                ] {
                    if *count > 0 {
                        text.push_str(&format!("  and {count} {what}\n"));
                    }
                }
                text.push_str(&format!(
                    "size cap: {} (LOSSC_JIT_CACHE_MAX_MB), least recently used evicted first\n",
                    size(*max_bytes)
                ));
                match why {
                    None => text.push_str("usable: yes\n"),
                    Some(why) => text.push_str(&format!("usable: no, generated code is off: {why}\n")),
                }
                text
            }
            Report::Clean {
                dir,
                removed,
                bytes_freed,
            } => {
                if removed.is_empty() {
                    return format!("nothing to remove in {dir}\n");
                }
                let mut text = String::new();
                for item in removed {
                    text.push_str(&format!("removed {} ({})\n", item.path, size(item.bytes)));
                }
                text.push_str(&format!(
                    "removed {} {} from {dir}: {bytes_freed} bytes freed\n",
                    removed.len(),
                    plural(removed.len(), "item", "items"),
                ));
                text
            }
        }
    }
}

fn plural(count: usize, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 { one } else { many }
}

/// `bytes` for people: `812 bytes`, `3.4 KiB`, `1.2 MiB`, `2.0 GiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} {}", plural(bytes as usize, "byte", "bytes"));
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(0), "0 bytes");
        assert_eq!(size(1), "1 byte");
        assert_eq!(size(1023), "1023 bytes");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(256 << 20), "256.0 MiB");
        assert_eq!(size(3 << 40), "3.0 TiB");
        assert_eq!(size(5000 << 40), "5000.0 TiB");
    }
}
