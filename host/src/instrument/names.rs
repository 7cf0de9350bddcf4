//! Function names from a module's `name` custom section, for messages about a trap. Rust
//! toolchains write mangled symbols there; they are shown demangled.

use wasmparser::{KnownCustom, Name, Parser, Payload};

/// The name the module's name section gives function `index` (in the function index space,
/// imports first), demangled, or `None` when it has no name section, no entry for it, or a
/// malformed one.
pub fn function_name(bytes: &[u8], index: u32) -> Option<String> {
    for payload in Parser::new(0).parse_all(bytes) {
        let Payload::CustomSection(section) = payload.ok()? else {
            continue;
        };
        let KnownCustom::Name(names) = section.as_known() else {
            continue;
        };
        for name in names {
            let Name::Function(map) = name.ok()? else {
                continue;
            };
            for naming in map {
                let naming = naming.ok()?;
                if naming.index == index {
                    return Some(readable(naming.name));
                }
            }
        }
    }
    None
}

/// A Rust symbol demangled without its hash (`hello::main`); any other name as it is.
fn readable(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(symbol) => format!("{symbol:#}"),
        Err(_) => name.to_owned(),
    }
}
