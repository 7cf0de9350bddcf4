//! Unit tests of the rewrite: the result validates, no index moves, and the new code is where
//! it should be. Running rewritten modules is tested with the real runtime in
//! `tests/it/traps.rs`.

use wasmparser::{ExternalKind, Parser, Payload, Validator};

use super::*;

/// Enough stack for any of these small modules at the requested limit.
const BUDGET: u64 = 1 << 30;

fn rewritten(wat: &str) -> Instrumented {
    let bytes = wat::parse_str(wat).unwrap();
    let instrumented = instrument(&bytes, 1000, BUDGET).unwrap();
    Validator::new()
        .validate_all(&instrumented.bytes)
        .expect("the rewritten module validates");
    instrumented
}

/// The exports of a module: (name, kind, index).
fn exports(bytes: &[u8]) -> Vec<(String, ExternalKind, u32)> {
    let mut all = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::ExportSection(reader) = payload.unwrap() {
            for export in reader {
                let export = export.unwrap();
                all.push((export.name.to_owned(), export.kind, export.index));
            }
        }
    }
    all
}

/// The operators of every defined function, as debug strings.
fn bodies(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::CodeSectionEntry(body) = payload.unwrap() {
            let reader = body.get_operators_reader().unwrap();
            let ops: Vec<String> = reader
                .into_iter()
                .map(|op| format!("{:?}", op.unwrap()))
                .collect();
            all.push(ops);
        }
    }
    all
}

/// The contents of every element segment's function list.
fn element_functions(bytes: &[u8]) -> Vec<u32> {
    let mut all = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::ElementSection(reader) = payload.unwrap() {
            for element in reader {
                if let wasmparser::ElementItems::Functions(functions) = element.unwrap().items {
                    all.extend(functions.into_iter().map(Result::unwrap));
                }
            }
        }
    }
    all
}

const FULL: &str = r#"
(module
  (import "host" "log" (func $log (param i32)))
  (import "host" "base" (global $base i32))
  (global $counter (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 0) $pair $log)
  (func $pair (export "pair") (param $x i32) (result i32 i64)
    (block
      (br_if 0 (local.get $x))
      (return (i32.const 1) (i64.const 2)))
    (i32.const 3) (i64.const 4))
  (func $first (result funcref) (ref.func $pair))
  (func $start (call $log (global.get $base)))
  (start $start)
  (export "log" (func $log))
  (export "first" (func $first)))
"#;

#[test]
fn a_module_with_imports_tables_ref_func_and_multiple_results_validates() {
    let original = wat::parse_str(FULL).unwrap();
    let instrumented = rewritten(FULL);

    // Function indices do not move: exports and the table keep their targets.
    let mut expected = exports(&original);
    expected.push((STATE_EXPORT.to_owned(), ExternalKind::Global, 2));
    assert_eq!(exports(&instrumented.bytes), expected);
    assert_eq!(
        element_functions(&instrumented.bytes),
        element_functions(&original)
    );
    assert_eq!(instrumented.max_call_depth, 1000);
}

#[test]
fn every_defined_function_enters_through_the_prologue() {
    let instrumented = rewritten(FULL);
    let bodies = bodies(&instrumented.bytes);
    assert_eq!(bodies.len(), 3, "imported functions get no body");
    // (function index, the local that saves the call state: the one after params and locals)
    for (body, (function, saved)) in bodies.iter().zip([(1, 1), (2, 0), (3, 0)]) {
        let prologue = [
            "GlobalGet { global_index: 2 }".to_owned(),
            format!("LocalTee {{ local_index: {saved} }}"),
            format!("I64Const {{ value: {} }}", -1i64 << 32),
            "I64And".to_owned(),
            format!("I64Const {{ value: {} }}", (1i64 << 32) + function),
            "I64Add".to_owned(),
            "GlobalSet { global_index: 2 }".to_owned(),
            format!("LocalGet {{ local_index: {saved} }}"),
            format!("I64Const {{ value: {} }}", 1000i64 << 32),
            "I64GeU".to_owned(),
        ];
        assert_eq!(body[..10], prologue, "function {function}: {body:?}");
        let epilogue = [
            format!("LocalGet {{ local_index: {saved} }}"),
            "GlobalSet { global_index: 2 }".to_owned(),
            "End".to_owned(),
        ];
        assert_eq!(body[body.len() - 3..], epilogue, "function {function}");
    }
}

#[test]
fn return_becomes_a_branch_out_of_the_body_block() {
    let body = &bodies(&rewritten(FULL).bytes)[0];
    assert!(!body.iter().any(|op| op == "Return"), "{body:?}");
    // `return` inside one `block` branches two levels out: past it, to the body's block.
    assert!(
        body.contains(&"Br { relative_depth: 1 }".to_owned()),
        "{body:?}"
    );
}

#[test]
fn a_module_without_globals_or_exports_gets_both_sections() {
    let instrumented = rewritten("(module (func $f (call $f)) (start $f))");
    assert_eq!(
        exports(&instrumented.bytes),
        [(STATE_EXPORT.to_owned(), ExternalKind::Global, 0)]
    );
}

#[test]
fn tail_calls_run_the_epilogue_first() {
    let instrumented = rewritten("(module (func $f (return_call $f)))");
    let body = &bodies(&instrumented.bytes)[0];
    let call = body
        .iter()
        .position(|op| op.starts_with("ReturnCall"))
        .unwrap();
    assert_eq!(body[call - 1], "GlobalSet { global_index: 0 }", "{body:?}");
}

#[test]
fn the_name_section_still_names_the_functions() {
    let instrumented = rewritten(FULL);
    assert_eq!(
        function_name(&instrumented.bytes, 1).as_deref(),
        Some("pair")
    );
    assert_eq!(
        function_name(&instrumented.bytes, 3).as_deref(),
        Some("start")
    );
    assert_eq!(function_name(&instrumented.bytes, 9), None);
    let unnamed = wat::parse_str("(module (func))").unwrap();
    assert_eq!(function_name(&unnamed, 0), None);
}

#[test]
fn rust_symbols_are_named_demangled() {
    let module =
        "(module (func $_ZN5hello4main17h0123456789abcdefE) (func $_RNvCs8iPgm5r1oZh_5hello4boom))";
    let bytes = wat::parse_str(module).unwrap();
    assert_eq!(function_name(&bytes, 0).as_deref(), Some("hello::main"));
    assert_eq!(function_name(&bytes, 1).as_deref(), Some("hello::boom"));
}

#[test]
fn large_frames_lower_the_limit_to_what_the_stack_holds() {
    let locals = "(local i64)".repeat(5000);
    let bytes = wat::parse_str(format!("(module (func {locals}))")).unwrap();
    let instrumented = instrument(&bytes, 10_000, 64 << 20).unwrap();
    assert!(instrumented.largest_frame > 5000 * 8, "{instrumented:?}");
    let frames = (64 << 20) / instrumented.largest_frame;
    assert_eq!(u64::from(instrumented.max_call_depth), frames);
    assert!(instrumented.max_call_depth < 10_000);
}

#[test]
fn modules_that_cannot_be_instrumented_say_why() {
    let taken = wat::parse_str(format!(r#"(module (func (export "{STATE_EXPORT}")))"#)).unwrap();
    assert!(matches!(
        instrument(&taken, 10, BUDGET),
        Err(InstrumentError::ExportNameTaken { name }) if name == STATE_EXPORT
    ));
    let empty = wat::parse_str("(module)").unwrap();
    assert!(matches!(
        instrument(&empty, 10, BUDGET),
        Err(InstrumentError::NoFunctions)
    ));
    assert!(matches!(
        instrument(b"\0asm\x01\0\0\0\x01", 10, BUDGET),
        Err(InstrumentError::Invalid { .. })
    ));
}

#[test]
fn operators_are_copied_unchanged_between_prologue_and_epilogue() {
    let wat = "(module (func (param i32) (result i32) (i32.add (local.get 0) (i32.const 7))))";
    let body = &bodies(&rewritten(wat).bytes)[0];
    let start = body.iter().position(|op| op.starts_with("Block")).unwrap();
    assert_eq!(
        body[start + 1..start + 4],
        [
            "LocalGet { local_index: 0 }",
            "I32Const { value: 7 }",
            "I32Add"
        ]
    );
}

#[test]
fn the_call_state_unpacks_into_depth_and_function() {
    assert_eq!(
        CallState::from_global(NO_FUNCTION),
        CallState {
            depth: 0,
            function: None
        }
    );
    assert_eq!(
        CallState::from_global((10_001 << 32) | 7),
        CallState {
            depth: 10_001,
            function: Some(7)
        }
    );
}
