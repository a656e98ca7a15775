//! Certificate renewal over the live tunnel, at about two thirds of the lifetime with jitter,
//! keeping the key; the new certificate is hot-swapped for the next connection while the
//! current one and its streams carry on.

use std::time::Duration;

use pki::renew::{RenewRequest, RenewResponse};
use rand::Rng;
use rustls::pki_types::pem::PemObject;
use tracing::{info, warn};
use tunnel::{Credentials, Gateway};

use crate::{Config, Report};

/// Retry pacing when the hub cannot renew (HSM away, hub down): from 30 s up to 15 min.
const RETRY_MIN: Duration = Duration::from_secs(30);
const RETRY_MAX: Duration = Duration::from_secs(900);

/// When to renew a certificate valid from `not_before` to `not_after`: at 2/3 of its lifetime,
/// give or take 5 % of it.
pub fn renew_at(
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
    unit: f64,
) -> time::OffsetDateTime {
    let life = not_after - not_before;
    let jitter = life * 0.1 * (unit.clamp(0.0, 1.0) - 0.5);
    not_before + life * (2.0 / 3.0) + jitter
}

/// Runs forever: sleep until the renewal time, renew, swap, repeat. Failures also go to
/// `report` (the admin endpoint's `last_error`).
pub async fn run(config: Config, gateway: Gateway, report: Report) {
    let mut retry = RETRY_MIN;
    loop {
        let wait = match next_wait(&config) {
            Ok(wait) => wait,
            Err(error) => {
                warn!(%error, "cannot read the appliance certificate; renewal paused");
                report.error(&format!(
                    "cannot read the appliance certificate; renewal paused: {error}"
                ));
                tokio::time::sleep(RETRY_MAX).await;
                continue;
            }
        };
        tokio::time::sleep(wait).await;
        match renew_once(&config, &gateway).await {
            Ok(renewed) => {
                info!(not_after = %renewed.not_after, "certificate renewed");
                retry = RETRY_MIN;
                // Whatever the two clocks say, never renew again within a tenth of a lifetime:
                // a schedule that falls in the past must not turn into a loop.
                let life = renewed.not_after - renewed.not_before;
                tokio::time::sleep(Duration::try_from(life / 10).unwrap_or(RETRY_MIN)).await;
            }
            Err(error) => {
                warn!(error = %error, retry_s = retry.as_secs(), "certificate renewal failed; will retry");
                report.error(&format!("certificate renewal failed: {error:#}"));
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

fn next_wait(config: &Config) -> anyhow::Result<Duration> {
    let pem = std::fs::read_to_string(&config.tls.cert)?;
    let info = pki::cert_info(&pem)?;
    let at = renew_at(
        info.not_before,
        info.not_after,
        rand::thread_rng().r#gen::<f64>(),
    );
    let now = time::OffsetDateTime::now_utc();
    Ok(if at <= now {
        Duration::ZERO
    } else {
        (at - now).try_into().unwrap_or(RETRY_MAX)
    })
}

/// One renewal: CSR for the held key, exchange, write, swap. Returns the new validity.
pub async fn renew_once(config: &Config, gateway: &Gateway) -> anyhow::Result<pki::CertInfo> {
    let key_pem = std::fs::read_to_string(&config.tls.key)?;
    let cert_pem = std::fs::read_to_string(&config.tls.cert)?;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())?;
    let id = pki::appliance_id_from_cert(&der)?;
    let csr_pem = pki::csr_for_key(&key_pem, &id)?;
    let reply = gateway.renew(&RenewRequest { csr_pem }.encode()).await?;
    match RenewResponse::decode(&reply)? {
        RenewResponse::Issued {
            cert_pem,
            chain_pem,
        } => {
            let chain = format!("{cert_pem}{chain_pem}");
            let creds = Credentials::from_pem(
                &std::fs::read_to_string(&config.tls.hub_ca)?,
                &chain,
                &key_pem,
            )?;
            pki::write_public(&config.tls.cert, chain.as_bytes())?;
            gateway.set_credentials(&creds)?;
            Ok(pki::cert_info(&cert_pem)?)
        }
        RenewResponse::Refused { reason, .. } => anyhow::bail!("hub refused renewal: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_falls_at_two_thirds_within_the_jitter() {
        let start = time::OffsetDateTime::UNIX_EPOCH;
        let end = start + time::Duration::hours(24);
        assert_eq!(renew_at(start, end, 0.5), start + time::Duration::hours(16));
        let early = renew_at(start, end, 0.0);
        let late = renew_at(start, end, 1.0);
        assert!(
            early >= start + time::Duration::minutes(16 * 60 - 73)
                && early < start + time::Duration::hours(16)
        );
        assert!(
            late > start + time::Duration::hours(16)
                && late <= start + time::Duration::minutes(16 * 60 + 73)
        );
    }
}
