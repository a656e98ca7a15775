use super::*;

#[test]
fn files_are_named_by_their_digest_and_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let files = AttachmentStore::open(dir.path()).unwrap();
    let bytes = b"%PDF-1.7 certificat de na\xc8\x99tere";
    let stored = files.put(bytes).unwrap();
    assert_eq!(
        stored,
        StoredFile {
            sha256: Sha256::of(bytes),
            size: bytes.len() as u64,
            new: true
        }
    );
    let hex = stored.sha256.to_hex();
    let path = dir.path().join(&hex[..2]).join(&hex[2..]);
    assert_eq!(files.path(&stored.sha256), path);
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let again = files.put_reader(&bytes[..], 1 << 20).unwrap();
    assert!(!again.new);
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );
    let mut read = Vec::new();
    files
        .open_file(&stored.sha256)
        .unwrap()
        .read_to_end(&mut read)
        .unwrap();
    assert_eq!(read, bytes);
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn an_oversized_upload_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let files = AttachmentStore::open(dir.path()).unwrap();
    let big = vec![7u8; 200_000];
    let err = files.put_reader(&big[..], 100_000).unwrap_err();
    assert!(matches!(err, FileError::TooLarge { limit: 100_000 }));
    assert!(!files.contains(&Sha256::of(&big)));
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn leftovers_of_a_crash_are_cleared_and_removal_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
    std::fs::write(dir.path().join("tmp").join("123-0"), b"half a file").unwrap();
    let files = AttachmentStore::open(dir.path()).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
    let stored = files.put(b"x").unwrap();
    files.remove(&stored.sha256).unwrap();
    assert!(!files.contains(&stored.sha256));
    files.remove(&stored.sha256).unwrap();
}
