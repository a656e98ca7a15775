use std::io::Cursor;

use super::*;

fn read_all(input: &[u8], max: usize) -> Vec<(Line, Vec<u8>)> {
    let mut reader = io::BufReader::with_capacity(4, Cursor::new(input.to_vec()));
    let mut buf = Vec::new();
    let mut out = Vec::new();
    loop {
        let line = read_line(&mut reader, &mut buf, max).unwrap();
        let stop = line != Line::Complete;
        out.push((line, buf.clone()));
        if stop {
            return out;
        }
    }
}

#[test]
fn reads_lines_across_buffer_refills() {
    let lines = read_all(b"abcdefghij\n\nxyz\n", 16);
    assert_eq!(
        lines,
        vec![
            (Line::Complete, b"abcdefghij".to_vec()),
            (Line::Complete, Vec::new()),
            (Line::Complete, b"xyz".to_vec()),
            (Line::Eof, Vec::new()),
        ]
    );
}

#[test]
fn reports_a_partial_last_line() {
    let lines = read_all(b"one\ntw", 16);
    assert_eq!(lines[1], (Line::Partial, b"tw".to_vec()));
}

#[test]
fn stops_at_the_limit_without_holding_more() {
    let lines = read_all(b"0123456789abcdef\n", 10);
    assert_eq!(lines, vec![(Line::TooLong, b"0123456789".to_vec())]);
    let exact = read_all(b"0123456789\n", 10);
    assert_eq!(exact[0], (Line::Complete, b"0123456789".to_vec()));
}

#[test]
fn empty_input_is_an_empty_log() {
    assert_eq!(
        verify_reader(Cursor::new(Vec::new()), &[]).unwrap(),
        Report::default()
    );
}

#[test]
fn names_the_line_of_garbage() {
    let err = verify_reader(Cursor::new(b"not json\n".to_vec()), &[]).unwrap_err();
    assert!(
        matches!(
            err,
            ReadError::Broken {
                line: 1,
                seq: None,
                fault: Fault::Malformed(_)
            }
        ),
        "{err:?}"
    );
}
