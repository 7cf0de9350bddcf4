//! CPU architectures a Flatcar sysext can target, with the spellings systemd, Debian and
//! the kernel use for them.

use std::fmt;
use std::str::FromStr;

use crate::error::SysextError;

/// The architecture an image is baked for: Flatcar ships amd64 and arm64 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// 64-bit x86 (`amd64`, `x86_64`, `x86-64`).
    X86_64,
    /// 64-bit ARM (`arm64`, `aarch64`).
    Arm64,
}

impl Architecture {
    /// The name systemd uses in `ARCHITECTURE=` and sysupdate's `%a`.
    pub fn systemd_name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86-64",
            Self::Arm64 => "arm64",
        }
    }

    /// The Debian multiarch triplet, the name of the sysroot's library directory.
    pub fn multiarch(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64-linux-gnu",
            Self::Arm64 => "aarch64-linux-gnu",
        }
    }

    /// The file name of glibc's dynamic loader.
    pub fn loader(self) -> &'static str {
        match self {
            Self::X86_64 => "ld-linux-x86-64.so.2",
            Self::Arm64 => "ld-linux-aarch64.so.1",
        }
    }

    /// The architecture of the machine running this code, if Flatcar has it.
    pub fn host() -> Option<Self> {
        std::env::consts::ARCH.parse().ok()
    }
}

impl FromStr for Architecture {
    type Err = SysextError;

    fn from_str(arch: &str) -> Result<Self, Self::Err> {
        match arch.to_ascii_lowercase().as_str() {
            "x86-64" | "x86_64" | "amd64" => Ok(Self::X86_64),
            "arm64" | "aarch64" => Ok(Self::Arm64),
            _ => Err(SysextError::UnknownArchitecture {
                arch: arch.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.systemd_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_maps_to_the_systemd_name() {
        for (given, expected) in [
            ("amd64", "x86-64"),
            ("x86_64", "x86-64"),
            ("x86-64", "x86-64"),
            ("aarch64", "arm64"),
            ("ARM64", "arm64"),
        ] {
            let arch: Architecture = given.parse().expect(given);
            assert_eq!(arch.systemd_name(), expected, "{given}");
        }
    }

    #[test]
    fn unknown_architectures_are_refused() {
        for given in ["riscv64", "i386", "", "x86"] {
            let err = given.parse::<Architecture>().expect_err(given);
            assert!(
                matches!(err, SysextError::UnknownArchitecture { .. }),
                "{given}: {err}"
            );
        }
    }
}
