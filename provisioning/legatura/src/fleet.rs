//! `legatura fleet …` and `legatura audit verify`.

use std::path::Path;

use anyhow::Context;

use crate::noc::NocClient;
use crate::say;

/// One NOC API call whose answer is JSON; a non-200 answer becomes an error with the hub's
/// reason.
async fn call(
    noc: &NocClient,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let (status, bytes) = noc.request(method, path, body).await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).context("the hub's answer")?;
    if status != 200 {
        anyhow::bail!(
            "the hub refused: {}",
            value["error"].as_str().unwrap_or("unknown error")
        );
    }
    Ok(value)
}

/// Asks the hub for a one-time enrollment code.
/// Returns the code and its expiry (RFC 3339).
pub(crate) async fn enroll(
    data: &Path,
    mission: &str,
    appliance: &str,
) -> anyhow::Result<(String, String)> {
    let noc = NocClient::from_data(data)?;
    let body = serde_json::json!({ "mission": mission, "appliance": appliance });
    let value = call(&noc, "POST", "/v1/enrollments", Some(body)).await?;
    let code = value["code"]
        .as_str()
        .context("no code in the answer")?
        .to_owned();
    let expires = value["expires"]
        .as_i64()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "unknown".into());
    Ok((code, expires))
}

/// Asks the hub for a one-time code that enrols NOC operator `name`.
pub(crate) async fn enroll_operator(data: &Path, name: &str) -> anyhow::Result<(String, String)> {
    let noc = NocClient::from_data(data)?;
    let value = call(
        &noc,
        "POST",
        "/v1/operators",
        Some(serde_json::json!({ "name": name })),
    )
    .await?;
    let code = value["code"]
        .as_str()
        .context("no code in the answer")?
        .to_owned();
    Ok((code, expiry(&value)))
}

fn expiry(value: &serde_json::Value) -> String {
    value["expires"]
        .as_i64()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Revokes `target` (`mission/appliance`, or an appliance id unique across missions).
pub(crate) async fn revoke(data: &Path, target: &str) -> anyhow::Result<u64> {
    let noc = NocClient::from_data(data)?;
    let (mission, appliance) = match target.split_once('/') {
        Some((m, a)) => (m.to_owned(), a.to_owned()),
        None => {
            let all = list(&noc).await?;
            let matches: Vec<_> = all.iter().filter(|a| a["appliance"] == target).collect();
            match matches.as_slice() {
                [one] => (
                    one["mission"].as_str().unwrap_or_default().to_owned(),
                    target.to_owned(),
                ),
                [] => anyhow::bail!("no appliance {target}"),
                _ => anyhow::bail!(
                    "{target} exists at several missions; name it as MISSION/{target}"
                ),
            }
        }
    };
    let body = serde_json::json!({ "mission": mission, "appliance": appliance });
    let value = call(&noc, "POST", "/v1/revocations", Some(body)).await?;
    Ok(value["disconnected"].as_u64().unwrap_or(0))
}

async fn list(noc: &NocClient) -> anyhow::Result<Vec<serde_json::Value>> {
    let value = call(noc, "GET", "/v1/appliances", None).await?;
    serde_json::from_value(value).context("the hub's answer")
}

/// Prints the fleet as a table.
pub(crate) async fn ls(data: &Path) -> anyhow::Result<()> {
    let noc = NocClient::from_data(data)?;
    let all = list(&noc).await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ago = |t: &serde_json::Value| {
        t.as_i64()
            .map(|t| human(now - t) + " ago")
            .unwrap_or_else(|| "never".into())
    };
    let until = |t: &serde_json::Value| {
        t.as_i64()
            .map(|t| {
                if t > now {
                    format!("in {}", human(t - now))
                } else {
                    "EXPIRED".into()
                }
            })
            .unwrap_or_else(|| "-".into())
    };
    let mut out = format!(
        "{:<12} {:<12} {:<8} {:<10} {:<10} {:<14} {:<16} {}\n",
        "MISSION",
        "APPLIANCE",
        "STATE",
        "TRANSPORT",
        "LAST SEEN",
        "CERT EXPIRES",
        "SOFTWARE",
        "FROM"
    );
    for a in &all {
        let seen = if a["connected"].as_bool() == Some(true) {
            "now".to_owned()
        } else {
            ago(&a["last_seen"])
        };
        out.push_str(&format!(
            "{:<12} {:<12} {:<8} {:<10} {:<10} {:<14} {:<16} {}\n",
            a["mission"].as_str().unwrap_or("-"),
            a["appliance"].as_str().unwrap_or("-"),
            a["state"].as_str().unwrap_or("-"),
            a["transport"].as_str().unwrap_or("-"),
            seen,
            until(&a["cert_not_after"]),
            a["software"].as_str().unwrap_or("-"),
            a["remote"].as_str().unwrap_or("-"),
        ));
    }
    say(out.trim_end());
    Ok(())
}

fn human(s: i64) -> String {
    match s {
        ..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Verifies the audit log against the audit-checkpoint public key.
pub(crate) fn audit_verify(log: &Path, public_key_hex: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(public_key_hex)
        .with_context(|| format!("reading {}", public_key_hex.display()))?;
    let key = hex::decode(text.trim()).context("the audit public key is not hex")?;
    match audit::verify(log, &[key]) {
        Ok(report) => {
            say(&format!(
                "audit log intact: {} entries, {} signed checkpoints, last entry {}, {} entries after the last checkpoint",
                report.entries, report.checkpoints, report.last_seq, report.after_last_checkpoint
            ));
            Ok(())
        }
        Err(error) => anyhow::bail!("audit log BROKEN: {error}"),
    }
}
