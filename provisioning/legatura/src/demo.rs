//! Demo data for `legatura up`: one console account per role, a few cases, some articles.
//! Credentials are random, shown at the first start and kept in `demo-accounts.txt` (mode
//! 0600) so the person running the demo can read them again.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

/// Seeds the case store the hub will open and returns the text to print about the accounts.
pub(crate) fn seed(data: &Path) -> anyhow::Result<String> {
    let store = casestore::Store::open(data.join("hub/cases.db"), casestore::Options::default())
        .context("opening the case store for the demo data")?;
    let created = console::demo::seed_accounts(&store, "Legătura demo")?;
    console::demo::seed_cases(&store)?;
    console::demo::seed_articles(&store)?;
    let file = data.join("demo-accounts.txt");
    if !created.is_empty() {
        let mut text = String::from(
            "Demo console accounts (password, then the TOTP secret for an authenticator app):\n",
        );
        for a in &created {
            let _ = writeln!(
                text,
                "  {:<14} {:<13} {:<13} password {}\n      {}",
                a.id,
                a.role.code(),
                a.consulate,
                a.password,
                a.otpauth
            );
        }
        text.push_str(
            "  Paris accounts sign in through the Paris gateway or the central console; the\n  \
             central ones (operator, supervisor, administrator) only on the central console.\n",
        );
        pki::write_private(&file, text.as_bytes())
            .with_context(|| format!("writing {}", file.display()))?;
        return Ok(text);
    }
    // Secrets go to the terminal once, when they are made; later starts say where they are.
    Ok(format!(
        "Demo console accounts: shown when they were created; their passwords and TOTP\n  \
         secrets are in {} (readable only by its owner).\n",
        file.display()
    ))
}
