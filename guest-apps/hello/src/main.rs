//! The hello guest: shows that WASI arguments, environment, preopened directories and exit
//! codes reach a guest run by nnedge.
//!
//! ```text
//! hello [--list DIR] [--read FILE] [--write FILE TEXT] [--env NAME] [--exit CODE]
//!       [--trap] [--compute N] [ARGS]...
//! ```
//!
//! It prints `Hello from nnedge!` and then one line per action; unknown words are echoed
//! back as `arg: WORD`. `--compute N` prints fib(N) (a CPU-bound loop for benchmarks).

use std::process::ExitCode;

fn main() -> ExitCode {
    println!("Hello from nnedge!");
    let mut args = std::env::args().skip(1);
    let mut code = 0u8;
    while let Some(arg) = args.next() {
        let result = match arg.as_str() {
            "--list" => list(&next(&mut args, "--list")),
            "--read" => read(&next(&mut args, "--read")),
            "--write" => {
                let path = next(&mut args, "--write");
                write(&path, &next(&mut args, "--write"))
            }
            "--env" => {
                let name = next(&mut args, "--env");
                match std::env::var(&name) {
                    Ok(value) => println!("env: {name}={value}"),
                    Err(_) => println!("env: {name} is not set"),
                }
                Ok(())
            }
            "--exit" => {
                code = next(&mut args, "--exit").parse().unwrap_or(255);
                Ok(())
            }
            "--trap" => trap(),
            "--compute" => {
                let n = next(&mut args, "--compute").parse().unwrap_or(30);
                println!("fib({n}) = {}", fib(n));
                Ok(())
            }
            other => {
                println!("arg: {other}");
                Ok(())
            }
        };
        if let Err(err) = result {
            eprintln!("hello: {err}");
            code = 1;
        }
    }
    ExitCode::from(code)
}

fn next(args: &mut impl Iterator<Item = String>, flag: &str) -> String {
    args.next().unwrap_or_else(|| {
        eprintln!("hello: {flag} needs a value");
        std::process::exit(2)
    })
}

fn list(dir: &str) -> std::io::Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        println!("entry: {name}");
    }
    Ok(())
}

fn read(path: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    println!("read: {}", text.trim_end());
    Ok(())
}

fn write(path: &str, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    println!("wrote: {path}");
    Ok(())
}

/// Executes the Wasm `unreachable` instruction, so the host reports a trap.
fn trap() -> std::io::Result<()> {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}

/// Naive recursive Fibonacci: deliberately slow, so interpreter and AOT can be compared.
fn fib(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib(n - 1) + fib(n - 2)
    }
}
