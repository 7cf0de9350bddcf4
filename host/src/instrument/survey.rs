//! The first pass: validate the module and gather what the rewrite needs — index counts,
//! function types, and an estimate of the largest native stack frame.
//!
//! The frame estimate bounds what WasmEdge's AOT code (LLVM) can keep on the native stack for
//! one call: a fixed part for the return address, saved registers and the runtime's own
//! arguments, plus a slot for every parameter and local and for every value the operand stack
//! can hold at once. Measured on WasmEdge 0.14.1, a frame takes about 32 bytes plus 8 per
//! `i64` value live across a call; the estimate allows twice that per slot and four times
//! the fixed part.

use wasmparser::{
    CompositeInnerType, FuncType, FuncValidator, FuncValidatorAllocations, FunctionBody, Parser,
    Payload, TypeRef, ValType, ValidPayload, Validator, ValidatorResources, WasmFeatures,
};

use super::{InstrumentError, STATE_EXPORT};

/// Bytes of every native frame besides its values.
const FRAME_BASE_BYTES: u64 = 128;
/// Bytes allowed for one local or operand of a scalar or reference type.
const SLOT_BYTES: u64 = 16;
/// Bytes allowed for one `v128` local, and for any operand (whose type is not tracked).
const WIDE_SLOT_BYTES: u64 = 32;

/// What the rewrite needs to know about a module.
#[derive(Debug, Default)]
pub(super) struct Survey {
    /// Imported functions, which come first in the function index space.
    pub imported_functions: u32,
    /// All globals, imported and defined: the index of the first global the rewrite adds.
    pub globals: u32,
    /// Every type in the type section, by index; `None` for a non-function (GC) type.
    pub types: Vec<Option<FuncType>>,
    /// The type index of each defined function.
    pub function_types: Vec<u32>,
    /// The largest estimated native frame of a defined function, in bytes.
    pub largest_frame: u64,
}

impl Survey {
    /// The type of the `n`th defined function.
    pub fn defined_type(&self, n: usize) -> Option<&FuncType> {
        let index = *self.function_types.get(n)?;
        self.types.get(index as usize)?.as_ref()
    }
}

/// Validates `bytes` and surveys the module.
pub(super) fn survey(bytes: &[u8]) -> Result<Survey, InstrumentError> {
    let mut validator = Validator::new_with_features(WasmFeatures::default());
    let mut survey = Survey::default();
    let mut allocations = FuncValidatorAllocations::default();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload?;
        if let ValidPayload::Func(func, body) = validator.payload(&payload)? {
            let mut func = func.into_validator(std::mem::take(&mut allocations));
            let frame = frame_bytes(&mut func, &body)?;
            survey.largest_frame = survey.largest_frame.max(frame);
            allocations = func.into_allocations();
        }
        survey.record(payload)?;
    }
    Ok(survey)
}

impl Survey {
    /// Takes the counts and types out of one section.
    fn record(&mut self, payload: Payload<'_>) -> Result<(), InstrumentError> {
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for ty in group?.types() {
                        self.types.push(match &ty.composite_type.inner {
                            CompositeInnerType::Func(func) => Some(func.clone()),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    match import?.ty {
                        TypeRef::Func(_) | TypeRef::FuncExact(_) => self.imported_functions += 1,
                        TypeRef::Global(_) => self.globals += 1,
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    self.function_types.push(ty?);
                }
            }
            Payload::GlobalSection(reader) => self.globals += reader.count(),
            Payload::ExportSection(reader) => {
                for export in reader {
                    let name = export?.name;
                    if name == STATE_EXPORT {
                        let name = name.to_owned();
                        return Err(InstrumentError::ExportNameTaken { name });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Validates one function body and estimates its native frame (see the module docs).
fn frame_bytes(
    func: &mut FuncValidator<ValidatorResources>,
    body: &FunctionBody<'_>,
) -> Result<u64, InstrumentError> {
    let mut reader = body.get_binary_reader();
    func.read_locals(&mut reader)?;
    // Parameters and locals, then the local the instrumentation adds.
    let mut bytes = FRAME_BASE_BYTES + SLOT_BYTES;
    for index in 0..func.len_locals() {
        bytes += match func.get_local_type(index) {
            Some(ValType::V128) => WIDE_SLOT_BYTES,
            _ => SLOT_BYTES,
        };
    }

    let mut operators = body.get_operators_reader()?;
    let mut height = 0;
    while !operators.eof() {
        let (operator, offset) = operators.read_with_offset()?;
        func.op(offset, &operator)?;
        height = height.max(func.operand_stack_height());
    }
    operators.finish()?;
    Ok(bytes + u64::from(height) * WIDE_SLOT_BYTES)
}
