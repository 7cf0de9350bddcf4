//! The facts a benchmark figure means nothing without: CPU model, cores, memory, kernel.

use std::fmt;

use serde::Serialize;

/// A description of the machine a benchmark ran on, read from `/proc`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    /// The CPU's model name.
    pub cpu_model: String,
    /// Logical CPUs this process may use.
    pub logical_cpus: usize,
    /// Total memory.
    pub memory_gib: f64,
    /// The Linux kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads `/proc/cpuinfo`, `/proc/meminfo` and `/proc/sys/kernel/osrelease`; fields that
    /// cannot be read say `unknown`.
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
            .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned());
        Self {
            cpu_model,
            logical_cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: memory_kib / 1024.0 / 1024.0,
            kernel,
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} logical CPUs, {:.1} GiB, Linux {})",
            self.cpu_model, self.logical_cpus, self.memory_gib, self.kernel
        )
    }
}
