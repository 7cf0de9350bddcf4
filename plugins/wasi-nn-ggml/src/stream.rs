//! Generated text as a byte stream that releases only what is safe to show.
//!
//! A token's piece can end in the middle of a UTF-8 character (byte-level BPE vocabularies
//! split emoji and CJK characters across tokens), and a reverse prompt can span tokens.
//! [`TextStream`] keeps the whole output and releases bytes only when they (a) end on a
//! character boundary and (b) cannot be the start of the reverse prompt. When the reverse
//! prompt appears, the text before it is released and the prompt itself is dropped. At the end
//! of generation, [`TextStream::finish`] releases whatever is left, incomplete bytes included,
//! so the concatenated pieces always equal the full output byte for byte.

/// The output of one generation step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Released<'a> {
    /// Bytes that became safe to show in this step (possibly empty).
    pub bytes: &'a [u8],
    /// Whether the reverse prompt appeared, which ends the generation.
    pub stopped: bool,
}

/// The generated text of one sequence and how much of it has been released.
#[derive(Clone, Debug, Default)]
pub struct TextStream {
    text: Vec<u8>,
    released: usize,
    reverse_prompt: Option<Vec<u8>>,
}

impl TextStream {
    /// A stream that stops at `reverse_prompt`, if any (an empty one is ignored).
    pub fn new(reverse_prompt: Option<&str>) -> Self {
        let reverse_prompt = reverse_prompt
            .filter(|r| !r.is_empty())
            .map(|r| r.as_bytes().to_vec());
        Self {
            text: Vec::new(),
            released: 0,
            reverse_prompt,
        }
    }

    /// The whole output so far (without a reverse prompt that ended it).
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// Appends a token's piece and returns what became safe to release.
    pub fn push(&mut self, piece: &[u8]) -> Released<'_> {
        self.text.extend_from_slice(piece);
        let start = self.released;

        if let Some(reverse) = &self.reverse_prompt {
            if let Some(at) = find(&self.text[start..], reverse) {
                self.text.truncate(start + at);
                self.released = self.text.len();
                return Released {
                    bytes: &self.text[start..],
                    stopped: true,
                };
            }
        }

        let unsent = &self.text[start..];
        let held = self
            .reverse_prompt
            .as_deref()
            .map_or(0, |r| partial_match(unsent, r));
        let limit = char_boundary(&unsent[..unsent.len() - held]);
        self.released = start + limit;
        Released {
            bytes: &self.text[start..self.released],
            stopped: false,
        }
    }

    /// Releases every byte not yet released, complete character or not.
    pub fn finish(&mut self) -> &[u8] {
        let start = self.released;
        self.released = self.text.len();
        &self.text[start..]
    }
}

/// The first index of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The length of the longest suffix of `text` that is a proper prefix of `pattern`.
fn partial_match(text: &[u8], pattern: &[u8]) -> usize {
    let longest = pattern.len().saturating_sub(1).min(text.len());
    (1..=longest)
        .rev()
        .find(|&n| text.ends_with(&pattern[..n]))
        .unwrap_or(0)
}

/// The length of the longest prefix of `bytes` that does not end inside a UTF-8 character.
///
/// Only a trailing lead byte followed by fewer continuation bytes than it announces is held
/// back; bytes that can never form a character are released as they are.
pub fn char_boundary(bytes: &[u8]) -> usize {
    let tail_start = bytes.len().saturating_sub(3);
    for index in (tail_start..bytes.len()).rev() {
        let byte = bytes[index];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: look further back for its lead byte
        }
        let needed = match byte {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 1,
        };
        let present = bytes.len() - index;
        return if present < needed { index } else { bytes.len() };
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(stream: &mut TextStream, pieces: &[&[u8]]) -> (Vec<Vec<u8>>, bool) {
        let mut released = Vec::new();
        for piece in pieces {
            let step = stream.push(piece);
            released.push(step.bytes.to_vec());
            if step.stopped {
                return (released, true);
            }
        }
        released.push(stream.finish().to_vec());
        (released, false)
    }

    #[test]
    fn holds_back_a_split_emoji_until_complete() {
        let emoji = "😀".as_bytes(); // F0 9F 98 80
        let mut stream = TextStream::new(None);
        let (released, _) = collect(
            &mut stream,
            &[b"hi ", &emoji[..1], &emoji[1..3], &emoji[3..]],
        );
        assert_eq!(
            released,
            vec![b"hi ".to_vec(), vec![], vec![], emoji.to_vec(), vec![]]
        );
        for piece in &released {
            assert!(std::str::from_utf8(piece).is_ok());
        }
    }

    #[test]
    fn holds_back_split_cjk_characters() {
        let text = "東京です".as_bytes();
        let mut stream = TextStream::new(None);
        let pieces: Vec<&[u8]> = text.chunks(2).collect();
        let (released, _) = collect(&mut stream, &pieces);
        assert_eq!(released.concat(), text);
        for piece in &released {
            assert!(std::str::from_utf8(piece).is_ok(), "{piece:?}");
        }
    }

    #[test]
    fn flushes_incomplete_bytes_at_the_end() {
        let mut stream = TextStream::new(None);
        let (released, _) = collect(&mut stream, &[b"a\xE6\x9D"]);
        assert_eq!(released, vec![b"a".to_vec(), b"\xE6\x9D".to_vec()]);
        assert_eq!(stream.text(), b"a\xE6\x9D");
    }

    #[test]
    fn releases_invalid_bytes_instead_of_holding_them_forever() {
        assert_eq!(char_boundary(b"ab\xFF"), 3);
        assert_eq!(char_boundary(b"ab\x80\x80\x80"), 5);
        assert_eq!(char_boundary(b"\xE6\x9D\xB1"), 3);
        assert_eq!(char_boundary(b"x\xE6\x9D"), 1);
        assert_eq!(char_boundary(b""), 0);
    }

    #[test]
    fn stops_at_a_reverse_prompt_split_across_pieces() {
        let mut stream = TextStream::new(Some("User:"));
        let (released, stopped) = collect(&mut stream, &[b"Hello", b" Us", b"er", b": next"]);
        assert!(stopped);
        assert_eq!(released.concat(), b"Hello ");
        assert_eq!(stream.text(), b"Hello ");
    }

    #[test]
    fn releases_a_false_start_of_the_reverse_prompt() {
        let mut stream = TextStream::new(Some("User:"));
        let (released, stopped) = collect(&mut stream, &[b"Us", b"ually"]);
        assert!(!stopped);
        assert_eq!(released, vec![vec![], b"Usually".to_vec(), vec![]]);
    }
}
