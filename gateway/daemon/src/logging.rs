//! Structured logs: JSON lines when stderr is not a terminal (journald, files), human-readable
//! otherwise. `RUST_LOG` overrides the level.

use std::io::IsTerminal;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Installs the global subscriber once; later calls do nothing.
pub fn init() {
    init_with(None::<tracing_subscriber::layer::Identity>);
}

/// As [`init`], and `watch` also sees every warning and error, whatever `RUST_LOG` says (a
/// daemon keeps the last one for its status document).
pub fn init_with<L>(watch: Option<L>)
where
    L: Layer<Registry> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = if std::io::stderr().is_terminal() {
        lines.boxed()
    } else {
        lines.json().flatten_event(true).boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(watch.map(|w| w.with_filter(LevelFilter::WARN)))
        .with(lines.with_filter(filter))
        .try_init();
}
