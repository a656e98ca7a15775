use std::io::Write as _;

use super::*;

fn file_with(bytes: &[u8]) -> File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

fn collect(file: &File, end: u64) -> Vec<Vec<u8>> {
    let mut lines = RevLines::new(file, end);
    let mut out = Vec::new();
    while let Some(line) = lines.next_line().unwrap() {
        out.push(line);
    }
    out
}

#[test]
fn reads_lines_backwards_across_chunks() {
    let long = vec![b'x'; CHUNK as usize + 10];
    let mut bytes = b"first\n".to_vec();
    bytes.extend_from_slice(&long);
    bytes.extend_from_slice(b"\n\nlast\n");
    let file = file_with(&bytes);
    let lines = collect(&file, bytes.len() as u64);
    assert_eq!(
        lines,
        vec![b"last".to_vec(), Vec::new(), long, b"first".to_vec()]
    );
}

#[test]
fn empty_file_has_no_lines() {
    let file = file_with(b"");
    assert!(collect(&file, 0).is_empty());
    let tail = read_tail(&file, 0, 10).unwrap();
    assert_eq!(tail.next_seq, 1);
    assert_eq!(tail.head, None);
}

#[test]
fn an_overlong_line_is_an_error_not_a_panic() {
    let mut bytes = vec![b'y'; MAX_LINE + CHUNK as usize];
    bytes.push(b'\n');
    let file = file_with(&bytes);
    let err = RevLines::new(&file, bytes.len() as u64)
        .next_line()
        .unwrap_err();
    assert!(matches!(
        err,
        TailError::Broken {
            fault: Fault::TooLong,
            ..
        }
    ));
}

#[test]
fn a_torn_line_longer_than_any_entry_is_left_alone() {
    let bytes = vec![b'z'; MAX_LINE + 5];
    let file = file_with(&bytes);
    let err = repair_torn(&file, bytes.len() as u64).unwrap_err();
    assert!(matches!(
        err,
        TailError::Broken {
            fault: Fault::TooLong,
            ..
        }
    ));
    assert_eq!(file.metadata().unwrap().len(), bytes.len() as u64);
}

#[test]
fn a_torn_first_line_is_cut_off() {
    let file = file_with(b"{\"seq\":1,\"ti");
    let (len, repair) = repair_torn(&file, 12).unwrap();
    assert_eq!(len, 0);
    assert!(matches!(
        repair,
        Some(Repair::Truncated {
            offset: 0,
            bytes: 12,
            ..
        })
    ));
    assert_eq!(file.metadata().unwrap().len(), 0);
}
