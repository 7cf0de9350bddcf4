//! The error type of sysext baking and inspection: one variant per refusal, each naming the
//! path or value at fault and, where the user can fix it, how.

use std::path::PathBuf;

/// Everything that stops a bake or an inspection.
#[derive(Debug, thiserror::Error)]
pub enum SysextError {
    /// Reading or writing a file failed (the message of `fs-err` names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),

    /// The squashfs writer or reader (`backhand`) failed.
    #[error("squashfs error on `{path}`: {source}")]
    Squashfs {
        /// The image being written or read.
        path: PathBuf,
        /// What backhand reported.
        source: backhand::BackhandError,
    },

    /// An image name that systemd could not use as a file name.
    #[error(
        "invalid extension name `{name}`: use letters, digits, `_`, `.` and `-`, \
         starting with a letter or digit"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
    },

    /// A version with characters that would break the image file name.
    #[error("invalid version `{version}`: use letters, digits and `.`, `_`, `+`, `~`, `^`, `-`")]
    InvalidVersion {
        /// The rejected version.
        version: String,
    },

    /// An architecture that Flatcar does not ship.
    #[error("unknown architecture `{arch}`: use x86-64 (amd64, x86_64) or arm64 (aarch64)")]
    UnknownArchitecture {
        /// The rejected architecture.
        arch: String,
    },

    /// A compressor name that is not one of gzip, xz, zstd, lz4.
    #[error("unknown compression `{name}`: use gzip, xz, zstd or lz4")]
    UnknownCompression {
        /// The rejected name.
        name: String,
    },

    /// The release file name and the image file name disagree, so systemd-sysext would
    /// ignore the image.
    #[error(
        "extension name `{name}` does not match `{found}`: systemd-sysext only merges an \
         image whose file name is NAME.raw (or NAME-VERSION-ARCH.raw behind a NAME.raw \
         symlink) with usr/lib/extension-release.d/extension-release.NAME inside"
    )]
    NameMismatch {
        /// The name the bake was asked for.
        name: String,
        /// The conflicting name (an output file name or a release file in the input).
        found: String,
    },

    /// The input already carries an extension-release file; the bake writes its own.
    #[error("the input already has `{path}`: remove it, the bake writes the release file")]
    ReleaseFileInInput {
        /// The release file in the input.
        path: PathBuf,
    },

    /// An os-release file would make the image look like an operating system, not an
    /// extension.
    #[error("the input has `{path}`: an extension must not carry usr/lib/os-release")]
    OsRelease {
        /// The offending path.
        path: PathBuf,
    },

    /// Anything under `usr/sbin` hides Flatcar's `/usr/sbin` -> `bin` symlink when merged.
    #[error(
        "the input has `{path}`: an entry under usr/sbin hides Flatcar's /usr/sbin symlink; \
         put executables in usr/bin"
    )]
    UsrSbin {
        /// The offending path.
        path: PathBuf,
    },

    /// Nothing but directories under `usr/` and `opt/`: systemd would merge nothing.
    #[error("the image would be empty: the input has no files or symlinks under usr/ or opt/")]
    EmptyImage,

    /// A path that leaves the tree (`..`), is absolute or is not valid UTF-8.
    #[error("unsafe path `{path}` in the input: paths must stay inside the tree (no `..`)")]
    UnsafePath {
        /// The rejected path, as found in the input.
        path: PathBuf,
    },

    /// A relative symlink whose target resolves outside the image.
    #[error("symlink `{path}` -> `{target}` points outside the image")]
    SymlinkEscapes {
        /// The symlink inside the tree.
        path: PathBuf,
        /// Its target.
        target: PathBuf,
    },

    /// Two input entries want the same path with different kinds or contents.
    #[error("`{path}` appears twice in the input")]
    DuplicateEntry {
        /// The contested path.
        path: PathBuf,
    },

    /// A device node, FIFO or socket: sysext images carry files, directories and symlinks.
    #[error("`{path}` is not a regular file, directory or symlink")]
    UnsupportedFileType {
        /// The offending input path.
        path: PathBuf,
    },

    /// A release tarball without a `bin/` directory, at the top or under one folder.
    #[error(
        "tarball `{path}` has no bin/ directory at its top or under a single top folder; \
         unpack it and bake the directory instead"
    )]
    TarballWithoutBin {
        /// The tarball.
        path: PathBuf,
    },

    /// A tarball compressed with something other than gzip (or not compressed).
    #[error("tarball `{path}` is compressed with {format}: only .tar and .tar.gz are read")]
    UnsupportedTarball {
        /// The tarball.
        path: PathBuf,
        /// The compression detected from its first bytes.
        format: &'static str,
    },

    /// The input path is neither a directory nor a tarball.
    #[error("`{path}` is neither a directory nor a tarball")]
    UnknownInput {
        /// The input path.
        path: PathBuf,
    },

    /// The nnedge preset's sysroot lacks the dynamic loader the launcher runs.
    #[error(
        "runtime sysroot `{sysroot}` has no `{loader}`: point --sysroot at the unpacked \
         runtime sysroot (the one holding usr/lib/<multiarch>/)"
    )]
    SysrootWithoutLoader {
        /// The sysroot given.
        sysroot: PathBuf,
        /// The loader path expected inside it.
        loader: PathBuf,
    },

    /// The preset's guest directory holds no `.wasm` file.
    #[error("no .wasm guests in `{dir}`")]
    NoGuests {
        /// The guest directory given.
        dir: PathBuf,
    },

    /// Running `patchelf` failed.
    #[error("`patchelf {args} {path}` failed ({reason}); install Debian's patchelf")]
    Patchelf {
        /// The file being read or patched (a copy of it, when patched).
        path: PathBuf,
        /// patchelf's options.
        args: String,
        /// The spawn error or the exit status and stderr.
        reason: String,
    },

    /// The nnedge preset's binary needs a library that is neither in the sysroot nor beside
    /// it.
    #[error(
        "`{binary}` needs `{library}`, which is in none of {}: bake the binary from a \
         complete build (`cargo xtask build --portable` collects the portable one with its \
         libraries)",
        display_paths(.searched)
    )]
    MissingLibrary {
        /// The binary being bundled.
        binary: PathBuf,
        /// The missing library's file name (a DT_NEEDED entry).
        library: String,
        /// The folders looked in: the sysroot's library folder, the binary's folder.
        searched: Vec<PathBuf>,
    },

    /// The nnedge preset's binary uses ggml's loadable backends, but no CPU backend module
    /// sits beside it: it would find no kernels.
    #[error(
        "no ggml CPU backend modules (libggml-cpu-*.so) in `{dir}`, beside the binary: bake \
         the portable build's folder as `cargo xtask build --portable` collects it"
    )]
    NoCpuBackendModules {
        /// The binary's folder.
        dir: PathBuf,
    },

    /// A sysupdate source URL that would break the transfer file.
    #[error("invalid sysupdate source URL `{url}`: give an http(s) URL without spaces")]
    InvalidSourceUrl {
        /// The rejected URL.
        url: String,
    },

    /// The file to inspect is not a little-endian squashfs 4.0 image.
    #[error("`{path}` is not a squashfs 4.0 little-endian image")]
    NotSquashfs {
        /// The inspected file.
        path: PathBuf,
    },
}

/// `a`, `b` and `c` as one line.
fn display_paths(paths: &[PathBuf]) -> String {
    let paths: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
    paths.join(", ")
}

/// Shorthand for results of this crate.
pub type Result<T, E = SysextError> = std::result::Result<T, E>;
