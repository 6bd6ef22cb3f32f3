//! A bounds-checked cursor over a byte slice.

use super::{vlu, Result, WireError};

/// Reads big-endian integers, VLUs and byte runs from a slice.
///
/// Every read checks bounds and fails with [`WireError::Truncated`]
/// instead of panicking.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not yet read (the RFC's `remainder()`).
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    /// Reads a big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a VLU (RFC 7016 §2.1.2).
    pub fn vlu(&mut self) -> Result<u64> {
        let (value, len) = vlu::decode(self.buf)?;
        self.buf = &self.buf[len..];
        Ok(value)
    }

    /// Reads exactly `len` bytes.
    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8]> {
        if len > self.buf.len() {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.buf.split_at(len);
        self.buf = tail;
        Ok(head)
    }

    /// Reads a VLU length, then that many bytes.
    pub fn vlu_bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.vlu()?;
        let len = usize::try_from(len).map_err(|_| WireError::BadLength)?;
        if len > self.buf.len() {
            return Err(WireError::BadLength);
        }
        self.bytes(len)
    }

    /// Takes everything that remains.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Fails unless everything has been read.
    pub fn finish(&self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes)
        }
    }
}

/// Appends a VLU length followed by `bytes`.
pub(crate) fn put_vlu_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    vlu::encode(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_order_and_checks_bounds() {
        let mut r = Reader::new(&[1, 0, 2, 0, 0, 0, 3, 0x81, 0x00, 2, 9, 9, 7]);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(2));
        assert_eq!(r.u32(), Ok(3));
        assert_eq!(r.vlu(), Ok(128));
        assert_eq!(r.vlu_bytes(), Ok(&[9u8, 9][..]));
        assert_eq!(r.finish(), Err(WireError::TrailingBytes));
        assert_eq!(r.u16(), Err(WireError::Truncated));
        assert_eq!(r.rest(), &[7]);
        assert!(r.is_empty());
    }

    #[test]
    fn vlu_bytes_longer_than_input_is_bad_length() {
        assert_eq!(
            Reader::new(&[5, 1, 2]).vlu_bytes(),
            Err(WireError::BadLength)
        );
        let huge = [0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(Reader::new(&huge).vlu_bytes().is_err());
    }
}
