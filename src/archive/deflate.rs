//! Parallel deflate for one zip entry, the way pigz splits gzip.
//!
//! A member is cut into fixed-size chunks. Each chunk is compressed on its
//! own (on any thread) as raw deflate, primed with the last 32 KiB of the
//! previous chunk as dictionary, and ended with a sync flush (the last chunk
//! with a final block). The compressed chunks, concatenated in order, are one
//! ordinary deflate stream that every unzip reads; the chunks' CRC-32s are
//! combined into the entry's. Chunk boundaries do not depend on the number of
//! threads, so the output is the same with 1 worker or 64.

use flate2::{Compress, CompressError, Compression, FlushCompress, Status};

/// Uncompressed bytes per chunk: the unit of work, and of memory in flight.
pub const CHUNK_SIZE: usize = 1 << 20;
/// Deflate's window: how much of the previous chunk primes the next.
pub const DICTIONARY_SIZE: usize = 32 * 1024;

/// One compressed chunk.
#[derive(Debug)]
pub struct Compressed {
    /// Raw deflate bytes.
    pub data: Vec<u8>,
    /// CRC-32 of the chunk's uncompressed bytes.
    pub crc: crc32fast::Hasher,
}

/// The zlib-rs level that gives stemzip's deflate `level`.
///
/// stemzip's levels 1–9 follow zlib's scale: level n compresses at least
/// about as well as zlib's (gzip's, pigz's, Python's) level n. zlib-rs, like
/// zlib-ng, trades size for speed at the same number — its level 1 is a
/// "quick" mode some 40 % larger than gzip -1 on simulation CSV — so its
/// level n+1 is used, up to 9 (measured in BENCHMARKS.md).
pub fn backend_level(level: u32) -> u32 {
    (level + 1).clamp(2, 9)
}

/// Compresses one chunk of a member. `dictionary` is the end of the previous
/// chunk (empty for the first); `last` ends the deflate stream. `level` is the
/// compressor's own level (see [`backend_level`]).
pub fn compress_chunk(
    input: &[u8],
    dictionary: &[u8],
    level: u32,
    last: bool,
) -> Result<Compressed, CompressError> {
    compress_chunk_into(input, dictionary, level, last, Vec::new())
}

/// [`compress_chunk`] into `out` (cleared first), so a buffer can be reused.
pub fn compress_chunk_into(
    input: &[u8],
    dictionary: &[u8],
    level: u32,
    last: bool,
    out: Vec<u8>,
) -> Result<Compressed, CompressError> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(input);
    // A fresh compressor for every chunk: a reused one (even after reset)
    // can emit different bytes, and the output must not depend on which
    // thread compressed what before. Its set-up is small next to 1 MiB of work.
    let mut compressor = Compress::new(Compression::new(level), false);
    if !dictionary.is_empty() {
        compressor.set_dictionary(dictionary)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let data = deflate(&mut compressor, input, flush, out)?;
    Ok(Compressed { data, crc })
}

/// Runs the compressor over all of `input` and flushes it.
fn deflate(
    c: &mut Compress,
    input: &[u8],
    flush: FlushCompress,
    mut out: Vec<u8>,
) -> Result<Vec<u8>, CompressError> {
    out.clear();
    out.reserve(input.len() / 2 + 4096);
    let start = c.total_in();
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = usize::try_from(c.total_in() - start).unwrap_or(input.len());
        let status = c.compress_vec(&input[consumed.min(input.len())..], &mut out, flush)?;
        let all_in = c.total_in() - start == input.len() as u64;
        match status {
            Status::StreamEnd => return Ok(out),
            // A sync flush is complete once all input is in and the output
            // buffer was not filled (zlib's rule for "call again").
            _ if flush == FlushCompress::Sync && all_in && out.len() < out.capacity() => {
                return Ok(out);
            }
            _ => {}
        }
    }
}

/// The dictionary for the chunk after `chunk`: its last 32 KiB.
pub fn dictionary_after(chunk: &[u8]) -> &[u8] {
    &chunk[chunk.len().saturating_sub(DICTIONARY_SIZE)..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| b"0123456789,.\n-e"[(i * 7 + i / 13) % 15])
            .collect()
    }

    #[test]
    fn concatenated_chunks_are_one_deflate_stream_with_the_combined_crc() {
        let data = sample(3 * CHUNK_SIZE + 12_345);
        let chunks: Vec<&[u8]> = data.chunks(CHUNK_SIZE).collect();
        let mut stream = Vec::new();
        let mut crc = crc32fast::Hasher::new();
        for (i, chunk) in chunks.iter().enumerate() {
            let dict = if i == 0 {
                &[][..]
            } else {
                dictionary_after(chunks[i - 1])
            };
            let c = compress_chunk(chunk, dict, 6, i + 1 == chunks.len()).unwrap();
            stream.extend_from_slice(&c.data);
            crc.combine(&c.crc);
        }
        let mut back = Vec::new();
        flate2::read::DeflateDecoder::new(&stream[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert_eq!(crc.finalize(), crc32fast::hash(&data));
        // Priming with the dictionary keeps the ratio of one whole stream.
        let mut whole = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(6));
        std::io::Write::write_all(&mut whole, &data).unwrap();
        let whole = whole.finish().unwrap();
        assert!((stream.len() as f64) < whole.len() as f64 * 1.01);
    }

    #[test]
    fn an_empty_member_is_a_valid_empty_stream() {
        let c = compress_chunk(&[], &[], 1, true).unwrap();
        let mut back = Vec::new();
        flate2::read::DeflateDecoder::new(&c.data[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
    }
}
