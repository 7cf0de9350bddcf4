//! A bounds-checked view of a guest's linear memory.
//!
//! Every pointer and length a guest passes is an untrusted `u32`. [`GuestMemory`] checks each
//! access against the slice (without overflow, on 32- and 64-bit hosts alike) and never panics.

use std::fmt;

/// Why a guest memory access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("guest memory access of {len} bytes at offset {offset} is outside the {size}-byte memory")]
pub struct OutOfBounds {
    /// The guest offset of the access.
    pub offset: u32,
    /// The length of the access in bytes.
    pub len: u64,
    /// The size of the guest memory.
    pub size: usize,
}

/// The linear memory (memory 0) of the calling guest instance.
pub struct GuestMemory<'a> {
    bytes: &'a mut [u8],
}

impl fmt::Debug for GuestMemory<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuestMemory")
            .field("size", &self.bytes.len())
            .finish()
    }
}

impl<'a> GuestMemory<'a> {
    /// Wraps the whole linear memory of a guest.
    pub fn new(bytes: &'a mut [u8]) -> Self {
        Self { bytes }
    }

    /// The size of the memory in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    fn range(&self, offset: u32, len: u64) -> Result<std::ops::Range<usize>, OutOfBounds> {
        let error = OutOfBounds {
            offset,
            len,
            size: self.bytes.len(),
        };
        let start = usize::try_from(offset).map_err(|_| error)?;
        let len = usize::try_from(len).map_err(|_| error)?;
        let end = start.checked_add(len).ok_or(error)?;
        if end > self.bytes.len() {
            return Err(error);
        }
        Ok(start..end)
    }

    /// The `len` bytes at `offset`.
    pub fn read(&self, offset: u32, len: u32) -> Result<&[u8], OutOfBounds> {
        let range = self.range(offset, u64::from(len))?;
        Ok(&self.bytes[range])
    }

    /// The little-endian `u32` at `offset` (no alignment required).
    pub fn read_u32(&self, offset: u32) -> Result<u32, OutOfBounds> {
        let bytes = self.read(offset, 4)?;
        let mut word = [0; 4];
        word.copy_from_slice(bytes);
        Ok(u32::from_le_bytes(word))
    }

    /// `count` consecutive little-endian `u32` words starting at `offset`.
    pub fn read_u32s(&self, offset: u32, count: u32) -> Result<Vec<u32>, OutOfBounds> {
        let range = self.range(offset, u64::from(count) * 4)?;
        let words = self.bytes[range].chunks_exact(4);
        Ok(words
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect())
    }

    /// Checks that `len` bytes at `offset` are writable, without writing.
    pub fn check_writable(&self, offset: u32, len: u64) -> Result<(), OutOfBounds> {
        self.range(offset, len).map(|_| ())
    }

    /// Writes `data` at `offset`.
    pub fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), OutOfBounds> {
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        let range = self.range(offset, len)?;
        self.bytes[range].copy_from_slice(data);
        Ok(())
    }

    /// Writes `value` as a little-endian `u32` at `offset`.
    pub fn write_u32(&mut self, offset: u32, value: u32) -> Result<(), OutOfBounds> {
        self.write(offset, &value.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_inside_the_memory() {
        let mut bytes = vec![0u8; 16];
        let mut memory = GuestMemory::new(&mut bytes);
        memory.write_u32(12, 0xdead_beef).unwrap();
        assert_eq!(memory.read_u32(12).unwrap(), 0xdead_beef);
        assert_eq!(memory.read(0, 16).unwrap().len(), 16);
        assert_eq!(memory.read(16, 0).unwrap(), &[] as &[u8]);
        assert_eq!(memory.read_u32s(8, 2).unwrap(), vec![0, 0xdead_beef]);
    }

    #[test]
    fn refuses_out_of_bounds_and_overflowing_accesses() {
        let mut bytes = vec![0u8; 16];
        let mut memory = GuestMemory::new(&mut bytes);
        assert!(memory.read_u32(13).is_err());
        assert!(memory.read(17, 0).is_err());
        assert!(memory.read(u32::MAX, u32::MAX).is_err());
        assert!(memory.read(1, u32::MAX).is_err());
        assert!(memory.read_u32s(0, u32::MAX).is_err());
        assert!(memory.write(15, &[1, 2]).is_err());
        assert!(memory.write_u32(u32::MAX - 1, 1).is_err());
        assert!(memory.check_writable(0, u64::MAX).is_err());
        assert_eq!(memory.read(0, 16).unwrap(), &[0u8; 16]);
    }
}
