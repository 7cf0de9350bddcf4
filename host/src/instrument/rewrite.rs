//! The second pass: re-encode the module with the call-state global, its export, and the
//! prologue and epilogue around every function body (see the parent module).
//!
//! Everything else is copied through `wasm-encoder`'s re-encoder unchanged, custom sections
//! (the name section among them) byte for byte: no function, local or global index moves.

use std::convert::Infallible;

use wasm_encoder::reencode::{utils, Error, Reencode};
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, ExportKind, ExportSection, Function, GlobalSection,
    GlobalType, Module, SectionId, TypeSection, ValType,
};
use wasmparser::{FunctionBody, Operator, Parser};

use super::survey::Survey;
use super::{InstrumentError, NO_FUNCTION, STATE_EXPORT};

/// What the rewrite needs to know about one defined function.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// How many parameters it has: its first local index after them.
    params: u32,
    /// The type of the block its body goes into: the function's results.
    block: BlockType,
}

/// Re-encodes `bytes` (surveyed as `survey`) with a call-depth limit of `limit`.
pub(super) fn rewrite(
    bytes: &[u8],
    survey: &Survey,
    limit: u32,
) -> Result<Vec<u8>, InstrumentError> {
    let mut rewriter = Rewriter::new(survey, limit)?;
    let mut module = Module::new();
    rewriter.parse_core_module(&mut module, Parser::new(0), bytes)?;
    Ok(module.finish())
}

struct Rewriter {
    limit: u32,
    imported_functions: u32,
    /// The index of the call-state global.
    state: u32,
    shapes: Vec<Shape>,
    /// Result lists of more than one value, each needing a type `[] -> results` appended to
    /// the type section for its block.
    block_types: Vec<Vec<ValType>>,
    /// Defined functions re-encoded so far.
    next_function: usize,
    globals_added: bool,
    exports_added: bool,
}

impl Rewriter {
    fn new(survey: &Survey, limit: u32) -> Result<Self, InstrumentError> {
        let mut rewriter = Rewriter {
            limit,
            imported_functions: survey.imported_functions,
            state: survey.globals,
            shapes: Vec::with_capacity(survey.function_types.len()),
            block_types: Vec::new(),
            next_function: 0,
            globals_added: false,
            exports_added: false,
        };
        for n in 0..survey.function_types.len() {
            let function = survey.imported_functions.saturating_add(n as u32);
            let ty = survey
                .defined_type(n)
                .ok_or(InstrumentError::NotAFunctionType { function })?;
            let results = ty
                .results()
                .iter()
                .map(|&t| ValType::try_from(t))
                .collect::<Result<Vec<_>, _>>()?;
            let block = match results.as_slice() {
                [] => BlockType::Empty,
                [one] => BlockType::Result(*one),
                _ => BlockType::FunctionType(rewriter.block_type(survey, results)),
            };
            let params = ty.params().len() as u32;
            rewriter.shapes.push(Shape { params, block });
        }
        Ok(rewriter)
    }

    /// The index of the appended type `[] -> results`, adding it if it is new.
    fn block_type(&mut self, survey: &Survey, results: Vec<ValType>) -> u32 {
        let at = match self.block_types.iter().position(|r| *r == results) {
            Some(at) => at,
            None => {
                self.block_types.push(results);
                self.block_types.len() - 1
            }
        };
        (survey.types.len() + at) as u32
    }

    /// The call state: depth 0, no function yet.
    fn add_globals(&mut self, globals: &mut GlobalSection) {
        let ty = GlobalType {
            val_type: ValType::I64,
            mutable: true,
            shared: false,
        };
        globals.global(ty, &ConstExpr::i64_const(NO_FUNCTION));
        self.globals_added = true;
    }

    fn add_exports(&mut self, exports: &mut ExportSection) {
        exports.export(STATE_EXPORT, ExportKind::Global, self.state);
        self.exports_added = true;
    }

    /// Saves the call state in local `saved`, then enters `function` one level deeper, and
    /// traps if that passes the limit.
    fn prologue(&self, f: &mut Function, function: u32, saved: u32) {
        let depth_bits = -1i64 << 32;
        let next = (1i64 << 32) | i64::from(function);
        f.instructions()
            .global_get(self.state)
            .local_tee(saved)
            .i64_const(depth_bits)
            .i64_and()
            .i64_const(next)
            .i64_add()
            .global_set(self.state);
        f.instructions()
            .local_get(saved)
            .i64_const(i64::from(self.limit) << 32)
            .i64_ge_u()
            .if_(BlockType::Empty)
            .unreachable()
            .end();
    }

    /// Restores the caller's call state from local `saved`.
    fn epilogue(&self, f: &mut Function, saved: u32) {
        f.instructions().local_get(saved).global_set(self.state);
    }
}

impl Reencode for Rewriter {
    type Error = Infallible;

    fn parse_type_section(
        &mut self,
        types: &mut TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), Error> {
        utils::parse_type_section(self, types, section)?;
        for results in &self.block_types {
            types.ty().function([], results.iter().copied());
        }
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Result<(), Error> {
        utils::parse_global_section(self, globals, section)?;
        self.add_globals(globals);
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), Error> {
        utils::parse_export_section(self, exports, section)?;
        self.add_exports(exports);
        Ok(())
    }

    /// Adds the global and export sections where a module has none.
    fn intersperse_section_hook(
        &mut self,
        module: &mut Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), Error> {
        if !self.globals_added && comes_after(before, SectionId::Global) {
            let mut globals = GlobalSection::new();
            self.add_globals(&mut globals);
            module.section(&globals);
        }
        if !self.exports_added && comes_after(before, SectionId::Export) {
            let mut exports = ExportSection::new();
            self.add_exports(&mut exports);
            module.section(&exports);
        }
        Ok(())
    }

    /// Copies every custom section as it is: the name section's indices all stay valid.
    fn parse_custom_section(
        &mut self,
        module: &mut Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> Result<(), Error> {
        module.section(&self.custom_section(section)?);
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut CodeSection,
        body: FunctionBody<'_>,
    ) -> Result<(), Error> {
        let n = self.next_function;
        self.next_function += 1;
        let Some(shape) = self.shapes.get(n).copied() else {
            // More bodies than declared functions: the survey's validation rules it out.
            return utils::parse_function_body(self, code, body);
        };
        let function = self.imported_functions.saturating_add(n as u32);

        // The original locals, then one for the caller's call state.
        let mut locals = Vec::new();
        let mut saved = shape.params;
        for local in body.get_locals_reader()? {
            let (count, ty) = local?;
            saved = saved.saturating_add(count);
            locals.push((count, self.val_type(ty)?));
        }
        locals.push((1, ValType::I64));
        let mut f = Function::new(locals);

        self.prologue(&mut f, function, saved);
        f.instructions().block(shape.block);
        let mut nesting = 0u32;
        let mut operators = body.get_operators_reader()?;
        while !operators.eof() {
            let operator = operators.read()?;
            match operator {
                Operator::Block { .. }
                | Operator::Loop { .. }
                | Operator::If { .. }
                | Operator::Try { .. }
                | Operator::TryTable { .. } => nesting += 1,
                Operator::End | Operator::Delegate { .. } if nesting > 0 => nesting -= 1,
                Operator::End => {
                    // The function's own end: close the block, then leave.
                    f.instructions().end();
                    self.epilogue(&mut f, saved);
                    f.instructions().end();
                    continue;
                }
                Operator::Return => {
                    f.instructions().br(nesting);
                    continue;
                }
                Operator::ReturnCall { .. }
                | Operator::ReturnCallIndirect { .. }
                | Operator::ReturnCallRef { .. } => self.epilogue(&mut f, saved),
                _ => {}
            }
            f.instruction(&self.instruction(operator)?);
        }
        operators.finish()?;
        code.function(&f);
        Ok(())
    }
}

/// Whether a section `before` (`None`: the end of the module) comes after `section` in a
/// module's binary order.
fn comes_after(before: Option<SectionId>, section: SectionId) -> bool {
    before.is_none_or(|before| order(before) > order(section))
}

/// A section's place in a module: ids are not in binary order (tags and data count).
fn order(section: SectionId) -> u8 {
    match section {
        SectionId::Custom => 0,
        SectionId::Type => 1,
        SectionId::Import => 2,
        SectionId::Function => 3,
        SectionId::Table => 4,
        SectionId::Memory => 5,
        SectionId::Tag => 6,
        SectionId::Global => 7,
        SectionId::Export => 8,
        SectionId::Start => 9,
        SectionId::Element => 10,
        SectionId::DataCount => 11,
        SectionId::Code => 12,
        SectionId::Data => 13,
    }
}
