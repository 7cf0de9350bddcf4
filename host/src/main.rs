//! `nnedge`: runs WebAssembly LLM apps on an embedded WasmEdge runtime.
//!
//! Exit codes: `run` returns the guest's own exit code; otherwise 0 on success, 1 when nnedge
//! fails (the message on stderr says why and what to do), 2 for a bad command line.

mod aot;
mod cache_dir;
mod cli;
mod cpu_backend;
mod gguf;
mod guest_log;
mod guest_memory;
mod guests;
mod imports;
mod instrument;
mod logging;
mod model;
mod nn_host;
mod run;
mod serve;
mod traps;
mod wasi_options;

use std::process::ExitCode;

use crate::cli::{Command, ModelCommand};

fn main() -> ExitCode {
    // First, so that `--version` can name the CPU kernels the portable flavour picked.
    let cpu_backend = cpu_backend::load();
    let cli = cli::parse(cpu_backend::version_text(&cpu_backend));
    logging::init(cli.verbose);
    match &cpu_backend {
        Ok(cpu_backend) => cpu_backend.log(),
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    }
    match execute(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run(args) => {
            let (wasm, guest_args) = args.wasm_and_args();
            let run = run::GuestRun {
                wasm,
                args: guest_args,
                dirs: args.dirs,
                envs: args.envs,
                preloads: args.preloads,
                interpreter: args.force_interpreter,
                max_call_depth: args.max_call_depth,
            };
            Ok(exit_code(run.run()?))
        }
        Command::Serve(args) => Ok(exit_code(serve::serve(args)?)),
        Command::Sysext(command) => {
            nnedge_sysext::cli::run(sysext_defaults(command)?).map(|()| ExitCode::SUCCESS)
        }
        Command::Ignition(command) => {
            nnedge_ignition::cli::run(command).map(|()| ExitCode::SUCCESS)
        }
        Command::Do { global, command } => {
            nnedge_digitalocean::cli::run_do_blocking(&global, &command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Deploy { global, command } => {
            nnedge_digitalocean::cli::run_deploy_blocking(&global, &command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(command) => nnedge_benches::cli::run(command).map(|()| ExitCode::SUCCESS),
        Command::Model(ModelCommand::Pull { name }) => {
            let path = model::resolve(&cache_dir::cache_root()?, &name)?;
            println!("{}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Compile(args) => {
            aot::compile_command(&args.input, &args.output)?;
            println!("{}", args.output.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A process exit status holds 8 bits, WASI's holds 32: keep the low byte, as a shell would,
/// but never turn a failure into success.
fn exit_code(guest_code: u32) -> ExitCode {
    let byte = match guest_code {
        0 => 0,
        c if c % 256 == 0 => 1,
        c => (c % 256) as u8,
    };
    ExitCode::from(byte)
}

/// Fills in the nnedge preset's inputs from this very installation: the portable build (see
/// [`cpu_backend::shipped_binary`]), the runtime sysroot this binary was linked against, and
/// the folder its bundled guests come from.
fn sysext_defaults(
    mut command: nnedge_sysext::cli::SysextCommand,
) -> anyhow::Result<nnedge_sysext::cli::SysextCommand> {
    use nnedge_sysext::cli::SysextCommand;
    let SysextCommand::Bake(args) = &mut command else {
        return Ok(command);
    };
    if args.preset.is_none() {
        return Ok(command);
    }
    if args.binary.is_none() {
        args.binary = Some(cpu_backend::shipped_binary(&cache_dir::cache_root()?)?);
    }
    if args.sysroot.is_none() {
        // <sysroot>/usr/lib/x86_64-linux-gnu, recorded by build.rs.
        let lib = option_env!("NNEDGE_BUILD_RUNTIME_LIB_DIR").map(std::path::PathBuf::from);
        args.sysroot = lib
            .as_deref()
            .and_then(|l| l.ancestors().nth(3))
            .map(Into::into);
    }
    if args.guests.is_none() {
        let hello = guests::find(&cache_dir::cache_root()?, "hello.wasm")?;
        args.guests = hello.parent().map(Into::into);
    }
    Ok(command)
}
