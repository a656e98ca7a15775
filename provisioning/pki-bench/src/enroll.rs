//! `enroll_s`: a second appliance joins the fleet the way an embassy box does. The NOC makes a
//! code (`legatura fleet enroll`, not timed); the clock runs from `gatewayd enroll CODE`, the
//! moment a person has typed the code, until the started daemon's `/readyz` answers 200, the
//! tunnel being up.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use crate::progress;
use crate::report::Report;
use crate::system::{Binaries, GatewayFiles, RunningGateway, Up};

const MISSION: &str = "bench";
const APPLIANCE: &str = "B-01";

/// Enrols and starts `bench/B-01`; returns its gateway, still running.
pub(crate) fn enroll(
    binaries: &Binaries,
    up: &Up,
    scratch: &Path,
    report: &mut Report,
) -> Result<RunningGateway> {
    let code = binaries.enrollment_code(&up.data, MISSION, APPLIANCE)?;
    let files = GatewayFiles::create(up, &scratch.join(APPLIANCE))?;
    progress!("enroll: {MISSION}/{APPLIANCE} with code {code}");

    let typed = Instant::now();
    files.enroll(binaries, &code)?;
    let enrolled = typed.elapsed();
    let mut daemon = files.start(binaries, &format!("gatewayd {APPLIANCE}"))?;
    files.wait_ready(&mut daemon)?;
    let total = typed.elapsed();

    report.num("enroll_s", total.as_secs_f64());
    report.num("enroll_exchange_s", enrolled.as_secs_f64());
    report.num("enroll_start_to_ready_s", (total - enrolled).as_secs_f64());
    Ok(RunningGateway { files, daemon })
}
