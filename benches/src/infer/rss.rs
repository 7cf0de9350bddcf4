//! Peak resident set size from `/proc`: `VmHWM` of a process's `status` file.
//!
//! The native runs share this process, so their peak is reset before each run by writing
//! `5` to `/proc/self/clear_refs` (Linux ≥ 4.0), which sets the high-water mark back to the
//! current resident size.

use std::path::Path;

/// Resets this process's peak RSS to its current RSS; a kernel that refuses leaves it as it
/// is (the figure then covers the whole process lifetime, which only overstates it).
pub fn reset_own_peak() {
    if let Err(error) = std::fs::write("/proc/self/clear_refs", "5") {
        tracing::warn!(%error, "could not reset the peak RSS; it covers earlier work too");
    }
}

/// This process's peak RSS in KiB, 0 when `/proc` cannot be read.
pub fn own_peak_kib() -> u64 {
    peak_kib(Path::new("/proc/self/status"))
}

/// The peak RSS in KiB of process `pid`, 0 when its `status` cannot be read.
pub fn peak_kib_of(pid: u32) -> u64 {
    peak_kib(&Path::new("/proc").join(pid.to_string()).join("status"))
}

fn peak_kib(status: &Path) -> u64 {
    std::fs::read_to_string(status)
        .ok()
        .and_then(|text| vm_hwm_kib(&text))
        .unwrap_or(0)
}

/// The `VmHWM:` value of a `/proc/PID/status` text, in KiB.
pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status = "Name:\tnnedge\nVmPeak:\t 1000 kB\nVmHWM:\t  251234 kB\nVmRSS:\t 2000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(251_234));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_a_peak() {
        reset_own_peak();
        assert!(own_peak_kib() > 0);
    }
}
