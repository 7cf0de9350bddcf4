//! The `wasi:logging/logging` host module: a guest's log lines, routed into nnedge's own
//! `tracing` output instead of WasmEdge's built-in plugin (which prints to stdout, where it
//! would mix with the guest's data).
//!
//! `log(level, context_ptr, context_len, message_ptr, message_len)`, levels as in the
//! wasi-logging proposal: 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 critical.

use wasmedge_sdk::error::CoreError;
use wasmedge_sdk::{CallingFrame, ImportObject, ImportObjectBuilder, Instance, WasmValue};

use crate::guest_memory::with_memory;

/// The module name guests import the function from.
pub const MODULE_NAME: &str = "wasi:logging/logging";

/// What the logging module knows: the guest's name, shown with every line.
#[derive(Debug)]
pub struct GuestLog {
    pub guest: String,
}

/// Reads `len` bytes at `ptr` as (lossy) UTF-8; `None` when out of bounds.
fn read_text(memory: &[u8], ptr: u32, len: u32) -> Option<String> {
    let start = ptr as usize;
    let end = start.checked_add(len as usize)?;
    memory
        .get(start..end)
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

fn log(
    state: &mut GuestLog,
    _inst: &mut Instance,
    frame: &mut CallingFrame,
    args: Vec<WasmValue>,
) -> Result<Vec<WasmValue>, CoreError> {
    let [level, ctx_ptr, ctx_len, msg_ptr, msg_len] =
        [0, 1, 2, 3, 4].map(|i| args.get(i).map_or(0, |v| v.to_i32() as u32));
    let texts = with_memory(frame, |memory| {
        (
            read_text(memory, ctx_ptr, ctx_len),
            read_text(memory, msg_ptr, msg_len),
        )
    });
    let Some((Some(context), Some(message))) = texts else {
        tracing::warn!(guest = %state.guest, "guest log call with out-of-bounds text ignored");
        return Ok(vec![]);
    };
    let guest = state.guest.as_str();
    match level {
        0 => tracing::trace!(target: "guest", guest, context, "{message}"),
        1 => tracing::debug!(target: "guest", guest, context, "{message}"),
        2 => tracing::info!(target: "guest", guest, context, "{message}"),
        3 => tracing::warn!(target: "guest", guest, context, "{message}"),
        _ => tracing::error!(target: "guest", guest, context, "{message}"),
    }
    Ok(vec![])
}

/// Builds the `wasi:logging/logging` import object.
pub fn import_object(state: GuestLog) -> anyhow::Result<ImportObject<GuestLog>> {
    let mut builder = ImportObjectBuilder::new(MODULE_NAME, state)?;
    builder.with_func::<(i32, i32, i32, i32, i32), ()>("log", log)?;
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::read_text;

    #[test]
    fn read_text_refuses_out_of_bounds_and_overflowing_ranges() {
        let memory = b"hello";
        assert_eq!(read_text(memory, 1, 3).as_deref(), Some("ell"));
        assert_eq!(read_text(memory, 3, 3), None);
        assert_eq!(read_text(memory, u32::MAX, u32::MAX), None);
    }
}
