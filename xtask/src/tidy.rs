//! `cargo xtask tidy`: repository invariants that neither rustc nor clippy can see.
//!
//! Each check states its rule and lists every offender, so one run shows everything to fix.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::cmd;
use crate::metadata::{Metadata, Package};

mod scan;
#[cfg(test)]
mod tests;

/// The sans-IO protocol crate.
const SANS_IO_CRATE: &str = "tunnel-proto";

/// Crates that would give the sans-IO crate sockets, an async runtime or a QUIC stack.
const SANS_IO_FORBIDDEN: &[&str] = &[
    "tokio",
    "quinn",
    "quinn-udp",
    "mio",
    "socket2",
    "async-std",
    "smol",
];

/// Native crypto stacks; TLS is rustls on ring only (deny.toml also bans openssl/native-tls).
const FORBIDDEN_NATIVE: &[&str] = &["aws-lc-sys", "aws-lc-rs", "openssl-sys"];

/// The only crates that may contain `unsafe`: FFI to PKCS#11/TPM, and the seccomp/landlock
/// sandbox.
const UNSAFE_ALLOWED: &[&str] = &["keys", "sandbox"];

/// How many lines above an `unsafe` block its `// SAFETY:` comment may start.
const SAFETY_COMMENT_REACH: usize = 3;

/// One invariant: a name, the rule in a sentence, and a function listing what breaks it.
struct Check {
    name: &'static str,
    rule: &'static str,
    run: fn(&Ctx) -> Result<Vec<String>>,
}

const CHECKS: &[Check] = &[
    Check {
        name: "sans-io",
        rule: "tunnel-proto must not depend (even indirectly) on sockets, tokio or quinn; I/O belongs in gateway/tunnel",
        run: sans_io,
    },
    Check {
        name: "layering",
        rule: "no crate under gateway/ may depend (even indirectly) on a crate under appliance/",
        run: layering,
    },
    Check {
        name: "native-crypto",
        rule: "aws-lc and OpenSSL must not be in the dependency graph; TLS is rustls on ring",
        run: native_crypto,
    },
    Check {
        name: "lints",
        rule: "every workspace crate's Cargo.toml must say `[lints]` `workspace = true`",
        run: workspace_lints,
    },
    Check {
        name: "crate-docs",
        rule: "every lib.rs/main.rs must open with a `//!` paragraph: the crate's role and invariants",
        run: crate_docs,
    },
    Check {
        name: "no-mod-rs",
        rule: "no `mod.rs`: write `src/foo.rs` plus `src/foo/…`",
        run: no_mod_rs,
    },
    Check {
        name: "unsafe",
        rule: "`unsafe` only in crates `keys` and `sandbox`, each block with `// SAFETY:` in the 3 lines above",
        run: unsafe_code,
    },
];

/// What the checks look at, gathered once.
struct Ctx {
    root: PathBuf,
    metadata: Metadata,
    /// Every `.rs` file git would track, relative to `root`.
    rust_files: Vec<PathBuf>,
}

pub(crate) fn run(root: &Path) -> Result<()> {
    let ctx = Ctx {
        root: root.to_path_buf(),
        metadata: Metadata::load()?,
        rust_files: rust_files()?,
    };
    let mut failed = Vec::new();
    for check in CHECKS {
        match (check.run)(&ctx) {
            Ok(problems) if problems.is_empty() => say!("tidy: {:<13} ok", check.name),
            Ok(problems) => {
                say!("tidy: {:<13} FAILED: {}", check.name, check.rule);
                for problem in &problems {
                    for line in problem.lines() {
                        say!("    {line}");
                    }
                }
                failed.push(check.name);
            }
            Err(error) => {
                say!("tidy: {:<13} could not run: {error:#}", check.name);
                failed.push(check.name);
            }
        }
    }
    if !failed.is_empty() {
        bail!("tidy failed: {}", failed.join(", "));
    }
    Ok(())
}

/// Tracked and untracked-but-not-ignored `.rs` files, as git sees them.
fn rust_files() -> Result<Vec<PathBuf>> {
    let listing = cmd::stdout_of(Command::new("git").args([
        "ls-files",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
        "*.rs",
    ]))
    .context("tidy lists files with git; run it inside the repository checkout")?;
    // `--cached` still lists files deleted from the working tree but not yet from the index.
    Ok(listing
        .lines()
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .collect())
}

fn sans_io(_: &Ctx) -> Result<Vec<String>> {
    let tree = cmd::stdout_of(cmd::cargo().args([
        "tree",
        "--package",
        SANS_IO_CRATE,
        "--edges",
        "normal",
        "--prefix",
        "none",
        "--all-features",
    ]))?;
    let names: BTreeSet<&str> = scan::tree_crate_names(&tree).collect();
    Ok(SANS_IO_FORBIDDEN
        .iter()
        .filter(|forbidden| names.contains(*forbidden))
        .map(|forbidden| format!("{SANS_IO_CRATE} depends on `{forbidden}`; see `cargo tree -p {SANS_IO_CRATE} -i {forbidden}`"))
        .collect())
}

fn layering(ctx: &Ctx) -> Result<Vec<String>> {
    let gateway = ctx.root.join("gateway");
    let appliance = ctx.root.join("appliance");
    let mut problems = Vec::new();
    for package in &ctx.metadata.packages {
        if package.dir().starts_with(&gateway) {
            let mut chain = vec![package.name.clone()];
            find_appliance_deps(ctx, package, &appliance, &mut chain, &mut problems);
        }
    }
    problems.sort();
    problems.dedup();
    Ok(problems)
}

/// Follows `package`'s path dependencies depth-first, recording each route into `appliance`.
/// `chain` is the route so far, as crate names. Dev-dependencies count only for the first
/// crate, since cargo does not inherit them.
fn find_appliance_deps(
    ctx: &Ctx,
    package: &Package,
    appliance: &Path,
    chain: &mut Vec<String>,
    problems: &mut Vec<String>,
) {
    for dep in &package.dependencies {
        let Some(path) = &dep.path else { continue };
        let is_dev = dep.kind.as_deref() == Some("dev");
        let seen = chain
            .iter()
            .any(|hop| hop.split(' ').next() == Some(dep.name.as_str()));
        if (is_dev && chain.len() > 1) || seen {
            continue;
        }
        chain.push(if is_dev {
            format!("{} (dev-dependency)", dep.name)
        } else {
            dep.name.clone()
        });
        if path.starts_with(appliance) {
            problems.push(format!(
                "{}; `{}` is in {}",
                chain.join(" -> "),
                dep.name,
                path.strip_prefix(&ctx.root).unwrap_or(path).display(),
            ));
        } else if let Some(next) = ctx.metadata.package_in(path) {
            find_appliance_deps(ctx, next, appliance, chain, problems);
        }
        chain.pop();
    }
}

fn native_crypto(_: &Ctx) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for name in FORBIDDEN_NATIVE {
        let out = cmd::capture(cmd::cargo().args([
            "tree",
            "--workspace",
            "--all-features",
            "--target",
            "all",
            "--invert",
            name,
        ]))?;
        let absent = if out.success {
            out.stdout.trim().is_empty()
        } else if out.stderr.contains("did not match") {
            true
        } else {
            bail!("`cargo tree -i {name}` failed:\n{}", out.stderr.trim_end());
        };
        if !absent {
            let mut shown: Vec<&str> = out.stdout.lines().take(12).collect();
            if out.stdout.lines().count() > shown.len() {
                shown.push("…");
            }
            problems.push(format!(
                "`{name}` is in the dependency graph, pulled in by:\n  {}",
                shown.join("\n  ")
            ));
        }
    }
    Ok(problems)
}

fn workspace_lints(ctx: &Ctx) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for package in &ctx.metadata.packages {
        let manifest = &package.manifest_path;
        let text = std::fs::read_to_string(manifest)
            .with_context(|| format!("cannot read {}", manifest.display()))?;
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("cannot parse {}", manifest.display()))?;
        let inherits = table
            .get("lints")
            .and_then(|lints| lints.get("workspace"))
            .and_then(toml::Value::as_bool)
            == Some(true);
        if !inherits {
            problems.push(format!(
                "{}: add `[lints]` `workspace = true`, or the workspace lints do not apply",
                relative(ctx, manifest)
            ));
        }
    }
    Ok(problems)
}

fn crate_docs(ctx: &Ctx) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for package in &ctx.metadata.packages {
        for target in &package.targets {
            let is_root = target
                .kind
                .iter()
                .any(|k| matches!(k.as_str(), "lib" | "bin" | "proc-macro"));
            let file_name = target.src_path.file_name().unwrap_or_default();
            if !is_root || !(file_name == "lib.rs" || file_name == "main.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&target.src_path)
                .with_context(|| format!("cannot read {}", target.src_path.display()))?;
            if !scan::opens_with_doc_paragraph(&text) {
                problems.push(format!(
                    "{}: must start with `//! <what this crate is for>`",
                    relative(ctx, &target.src_path)
                ));
            }
        }
    }
    Ok(problems)
}

fn no_mod_rs(ctx: &Ctx) -> Result<Vec<String>> {
    Ok(ctx
        .rust_files
        .iter()
        .filter(|path| path.file_name().is_some_and(|name| name == "mod.rs"))
        .map(|path| {
            let module = path.parent().unwrap_or(path);
            format!("{}: move to {}.rs", path.display(), module.display())
        })
        .collect())
}

fn unsafe_code(ctx: &Ctx) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for path in &ctx.rust_files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let found = scan::find_unsafe(&text, SAFETY_COMMENT_REACH);
        if found.is_empty() {
            continue;
        }
        let owner = owning_crate(&ctx.root, path)?;
        for site in found {
            let at = format!("{}:{}", path.display(), site.line);
            match owner.as_deref() {
                Some(name) if UNSAFE_ALLOWED.contains(&name) => {}
                Some(name) => problems.push(format!(
                    "{at}: `unsafe` in crate `{name}`; only {} may use it",
                    UNSAFE_ALLOWED.join(", ")
                )),
                None => problems.push(format!("{at}: `unsafe` outside any crate")),
            }
            if !site.documented {
                problems.push(format!(
                    "{at}: {} without a `// SAFETY:` comment in the {SAFETY_COMMENT_REACH} lines above",
                    site.kind
                ));
            }
        }
    }
    Ok(problems)
}

/// The name of the package whose directory holds `path` (the nearest `Cargo.toml` above it
/// that has a `[package]`), so that a fuzz crate is told apart from the crate it fuzzes.
fn owning_crate(root: &Path, path: &Path) -> Result<Option<String>> {
    for dir in path.ancestors().skip(1) {
        let manifest = root.join(dir).join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("cannot parse {}", manifest.display()))?;
        if let Some(name) = table
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(toml::Value::as_str)
        {
            return Ok(Some(name.to_owned()));
        }
    }
    Ok(None)
}

fn relative(ctx: &Ctx, path: &Path) -> String {
    path.strip_prefix(&ctx.root)
        .unwrap_or(path)
        .display()
        .to_string()
}
