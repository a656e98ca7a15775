use super::scan::{
    UnsafeKind, UnsafeSite, code_only, find_unsafe, opens_with_doc_paragraph, tree_crate_names,
};

fn site(line: usize, kind: UnsafeKind, documented: bool) -> UnsafeSite {
    UnsafeSite {
        line,
        kind,
        documented,
    }
}

#[test]
fn unsafe_in_comments_strings_and_names_is_not_code() {
    let src = r##"
// an unsafe { } in a line comment
/* and in a /* nested */ unsafe { } block comment */
let a = "unsafe { }";
let b = r#"unsafe { "quoted" }"#;
let c = br"unsafe {";
let d = '"'; let e = "\" unsafe {";
fn not_unsafe_fn<'a>(x: &'a str) -> &'a str { x }
let unsafe_count = 0;
"##;
    assert_eq!(find_unsafe(src, 3), vec![]);
}

#[test]
fn blanking_keeps_line_numbers_and_code() {
    let src = "let s = \"a\nb\"; // c\nlet t = 'x'; let u: &'static str = s;\n";
    let code = code_only(src);
    assert_eq!(code.lines().count(), src.lines().count());
    assert!(code.contains("let u: &'static str = s;"));
    assert!(!code.contains('x'));
}

#[test]
fn blocks_and_impls_need_a_safety_comment_within_reach() {
    let src = "\
fn f() {
    // SAFETY: the pointer comes from a live Box.
    let v = unsafe { *p };
    let w = unsafe {
        *q
    };
}
// SAFETY: Handle is only used behind a Mutex.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}
";
    assert_eq!(
        find_unsafe(src, 3),
        vec![
            site(3, UnsafeKind::Block, true),
            site(4, UnsafeKind::Block, true),
            site(9, UnsafeKind::Impl, true),
            site(10, UnsafeKind::Impl, true),
        ]
    );
    // Out of reach: the comment is four lines above the second block.
    assert_eq!(find_unsafe(src, 1)[1], site(4, UnsafeKind::Block, false));
    assert_eq!(find_unsafe(src, 1)[3], site(10, UnsafeKind::Impl, false));
}

#[test]
fn undocumented_block_and_other_unsafe_items_are_found() {
    let src = "\
unsafe extern \"C\" { fn c_fn(); }
#[unsafe(no_mangle)]
pub unsafe fn g() {}
fn h() { unsafe { g() } }
";
    assert_eq!(
        find_unsafe(src, 3),
        vec![
            site(1, UnsafeKind::Other, true),
            site(2, UnsafeKind::Other, true),
            site(3, UnsafeKind::Other, true),
            site(4, UnsafeKind::Block, false),
        ]
    );
}

#[test]
fn cargo_tree_lines_name_crates() {
    let tree = "tunnel-proto v0.1.0 (/work/main/gateway/tunnel-proto)\nthiserror v2.0.17\nthiserror-impl v2.0.17 (proc-macro)\nproc-macro2 v1.0.103 (*)\n";
    assert_eq!(
        tree_crate_names(tree).collect::<Vec<_>>(),
        ["tunnel-proto", "thiserror", "thiserror-impl", "proc-macro2"]
    );
}

#[test]
fn crate_root_must_open_with_a_doc_paragraph() {
    assert!(opens_with_doc_paragraph(
        "\n//! The wire format.\n\nmod a;\n"
    ));
    assert!(!opens_with_doc_paragraph("mod a;\n//! Late.\n"));
    assert!(!opens_with_doc_paragraph("//!\n//! Blank first line.\n"));
    assert!(!opens_with_doc_paragraph("/// An item doc.\nfn f() {}\n"));
    assert!(!opens_with_doc_paragraph(""));
}
