use super::*;

const CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";

fn run(gateway_code: &EnrollCode, hub_code: &EnrollCode) -> Result<Enrolled, EnrollError> {
    let (gw, start) = GatewayEnrollment::start(gateway_code, "test", 0);
    let Message::Start { pake, .. } = start else {
        panic!("start")
    };
    let (hub, challenge) = HubEnrollment::respond(hub_code, &pake).map_err(EnrollError::Refused)?;
    let (waiting, finish) = gw.finish(challenge, CSR)?;
    let csr = hub.check_finish(finish).map_err(EnrollError::Refused)?;
    assert_eq!(csr, CSR);
    waiting.accept(hub.issued(
        "cert".into(),
        "ca".into(),
        "paris".into(),
        "PAR-01".into(),
        None,
    ))
}

#[test]
fn the_right_code_enrolls() {
    let code = EnrollCode::generate().expect("rng");
    let enrolled = run(&code, &code).expect("enrolls");
    assert_eq!(enrolled.mission, "paris");
}

#[test]
fn a_wrong_code_is_refused_by_the_hub() {
    let code = EnrollCode::generate().expect("rng");
    let other = EnrollCode::from_parts(code.id(), "000000000000").expect("parts");
    assert_eq!(
        run(&other, &code),
        Err(EnrollError::Refused(Refusal::WrongCode))
    );
}

#[test]
fn a_csr_swapped_in_transit_is_refused() {
    let code = EnrollCode::generate().expect("rng");
    let (gw, start) = GatewayEnrollment::start(&code, "test", 0);
    let Message::Start { pake, .. } = start else {
        panic!("start")
    };
    let (hub, challenge) = HubEnrollment::respond(&code, &pake).expect("respond");
    let (_, finish) = gw.finish(challenge, CSR).expect("finish");
    let Message::Finish { confirm, .. } = finish else {
        panic!("finish")
    };
    let swapped = Message::Finish {
        csr_pem: CSR.replace("MIIB", "MIIC"),
        confirm,
    };
    assert_eq!(hub.check_finish(swapped), Err(Refusal::WrongCode));
}

#[test]
fn an_impostor_hub_cannot_hand_out_a_certificate() {
    let code = EnrollCode::generate().expect("rng");
    let (gw, start) = GatewayEnrollment::start(&code, "test", 0);
    let Message::Start { pake, .. } = start else {
        panic!("start")
    };
    // The impostor does not know the secret, so it runs the PAKE with a guess.
    let guess = EnrollCode::from_parts(code.id(), "ZZZZZZZZZZZZ").expect("parts");
    let (impostor, challenge) = HubEnrollment::respond(&guess, &pake).expect("respond");
    let (waiting, _) = gw.finish(challenge, CSR).expect("finish");
    let forged = impostor.issued(
        "cert".into(),
        "ca".into(),
        "paris".into(),
        "PAR-01".into(),
        None,
    );
    assert_eq!(waiting.accept(forged), Err(EnrollError::HubNotConfirmed));
}

#[test]
fn a_replayed_finish_fails_against_a_fresh_exchange() {
    let code = EnrollCode::generate().expect("rng");
    let (gw, start) = GatewayEnrollment::start(&code, "test", 0);
    let Message::Start { pake, .. } = start else {
        panic!("start")
    };
    let (_, challenge) = HubEnrollment::respond(&code, &pake).expect("respond");
    let (_, finish) = gw.finish(challenge, CSR).expect("finish");
    // The same Start replayed gets a new hub PAKE message, so the old Finish no longer fits.
    let (hub_again, _) = HubEnrollment::respond(&code, &pake).expect("respond");
    assert_eq!(hub_again.check_finish(finish), Err(Refusal::WrongCode));
}
