use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
};

use super::*;

/// Test-only inverse of [`ecdsa_raw_to_der`] for P-256, strict about canonical form.
fn der_to_raw(der: &[u8]) -> Vec<u8> {
    let [0x30, len, body @ ..] = der else {
        panic!("not a SEQUENCE: {der:02x?}")
    };
    assert_eq!(usize::from(*len), body.len());
    let mut out = Vec::new();
    let mut rest = body;
    for _ in 0..2 {
        let [0x02, len, tail @ ..] = rest else {
            panic!("not an INTEGER: {rest:02x?}")
        };
        let (int, tail) = tail.split_at(usize::from(*len));
        assert!(int[0] & 0x80 == 0, "negative");
        assert!(
            int.len() == 1 || int[0] != 0 || int[1] & 0x80 != 0,
            "not minimal: {int:02x?}"
        );
        let int = if int.len() > 32 {
            &int[int.len() - 32..]
        } else {
            int
        };
        out.extend(std::iter::repeat_n(0, 32 - int.len()));
        out.extend_from_slice(int);
        rest = tail;
    }
    assert!(rest.is_empty());
    out
}

#[test]
fn ring_raw_signatures_converted_to_der_verify_with_ring() {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let (mut padded, mut stripped) = (0, 0);
    for i in 0u32..3000 {
        let message = i.to_be_bytes();
        let raw = key.sign(&rng, &message).unwrap();
        let raw = raw.as_ref();
        let der = ecdsa_raw_to_der(raw).unwrap();
        assert!(
            crate::verify(key.public_key().as_ref(), &message, &der),
            "{raw:02x?}"
        );
        assert_eq!(der_to_raw(&der), raw);
        padded += [raw[0], raw[32]].iter().filter(|b| **b & 0x80 != 0).count();
        stripped += [raw[0], raw[32]].iter().filter(|b| **b == 0).count();
    }
    // Both edge cases occur often enough in 6000 scalars (p ≈ 1/2 and 1/256) to be exercised.
    assert!(
        padded > 1000 && stripped > 0,
        "padded {padded}, stripped {stripped}"
    );
}

#[test]
fn ring_der_signatures_round_trip_byte_for_byte() {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    for i in 0u32..1000 {
        let der = key.sign(&rng, &i.to_be_bytes()).unwrap();
        let raw = der_to_raw(der.as_ref());
        assert_eq!(ecdsa_raw_to_der(&raw).unwrap(), der.as_ref());
    }
}

#[test]
fn exact_encodings_at_the_edges() {
    let mut raw = [0u8; 64];
    raw[31] = 1;
    raw[32] = 0x80;
    let mut expected = vec![0x30, 0x26, 0x02, 0x01, 0x01, 0x02, 0x21, 0x00, 0x80];
    expected.extend([0; 31]);
    assert_eq!(ecdsa_raw_to_der(&raw).unwrap(), expected);

    // Zero stays one byte; 0x7f… needs no padding; 0x00 0x80… keeps its one significant zero.
    let mut raw = [0u8; 64];
    raw[32] = 0x7f;
    let mut expected = vec![0x30, 0x25, 0x02, 0x01, 0x00, 0x02, 0x20, 0x7f];
    expected.extend([0; 31]);
    assert_eq!(ecdsa_raw_to_der(&raw).unwrap(), expected);
    let mut raw = [0xffu8; 64];
    raw[..2].copy_from_slice(&[0x00, 0x80]);
    let der = ecdsa_raw_to_der(&raw).unwrap();
    assert_eq!(&der[..6], &[0x30, 0x45, 0x02, 0x20, 0x00, 0x80]);
    assert_eq!(&der[36..40], &[0x02, 0x21, 0x00, 0xff]);
}

#[test]
fn long_form_length_for_p521_sized_scalars() {
    let raw = [0xffu8; 132];
    let der = ecdsa_raw_to_der(&raw).unwrap();
    assert_eq!(&der[..3], &[0x30, 0x81, 2 * (2 + 67)]);
    assert_eq!(der.len(), 3 + 2 * (2 + 67));
}

#[test]
fn bad_raw_lengths_are_errors() {
    for len in [0, 1, 63, 65, 134] {
        assert_eq!(
            ecdsa_raw_to_der(&vec![1; len]),
            Err(DerError::BadRawLength(len))
        );
    }
}

#[test]
fn ec_point_parsing() {
    let mut point = vec![0x04];
    point.extend([7u8; 64]);
    let mut wrapped = vec![0x04, 0x41];
    wrapped.extend_from_slice(&point);
    assert_eq!(p256_point_from_ec_point(&wrapped), Ok(&point[..]));
    assert_eq!(p256_point_from_ec_point(&point), Ok(&point[..]));

    let mut trailing = wrapped.clone();
    trailing.push(0);
    let mut compressed = wrapped.clone();
    compressed[2] = 0x02;
    for bad in [
        &wrapped[..66],
        &trailing[..],
        &compressed[..],
        &[][..],
        &[0x04, 0x41][..],
    ] {
        assert_eq!(
            p256_point_from_ec_point(bad),
            Err(DerError::BadEcPoint),
            "{bad:02x?}"
        );
    }
}
