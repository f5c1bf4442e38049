//! The deterministic random stream behind `--random-seed N`: with a seed, the bytes the
//! sandbox hands out for `getrandom(2)` and reads of `/dev/urandom` / `/dev/random` come
//! from here instead of the kernel, so a run can be reproduced byte for byte.
//!
//! The generator is the ChaCha20 block function of RFC 8439 (20 rounds, 256-bit key,
//! 32-bit block counter, 96-bit nonce), used as a keystream. The seed is only 64 bits and
//! is turned into a key by zero-padding, so the output is *not* suitable for any
//! cryptographic purpose: it is reproducible by design, and anyone who knows (or guesses)
//! the seed can predict it.
//!
//! Derivation, fixed because recorded runs depend on it:
//!
//! * key: the seed as 8 little-endian bytes followed by 24 zero bytes, i.e. key words
//!   `[seed as u32, (seed >> 32) as u32, 0, 0, 0, 0, 0, 0]`;
//! * nonce: words `[0, stream as u32, (stream >> 32) as u32]`, so distinct `stream`
//!   values (e.g. one per consumer) give independent sequences for one seed;
//! * block counter: starts at 0 and counts 64-byte blocks. It is kept as a `u64`; the low
//!   half is the RFC's 32-bit counter word and the high half is the first nonce word
//!   (which is why the derivation sets that word to 0). Up to 2^32 blocks (256 GiB) the
//!   output is therefore exactly RFC 8439 ChaCha20 with the key and nonce above; past that
//!   the stream simply continues (the original 64-bit-counter ChaCha layout) rather than
//!   repeating. It wraps only after 2^64 blocks, which cannot be reached in practice.

/// "expand 32-byte k", the ChaCha constant words (RFC 8439 section 2.3).
const CONSTANTS: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Bytes produced by one call of the block function.
const BLOCK_LEN: usize = 64;

/// A ChaCha20 keystream: `seed` -> key, `stream` -> nonce; reads advance a position.
#[derive(Clone, Debug)]
pub struct Stream {
    /// The eight key words.
    key: [u32; 8],
    /// Nonce words 1 and 2 (nonce word 0 carries the high half of `counter`).
    nonce_tail: [u32; 2],
    /// Index of the next block to generate: low half -> counter word, high half -> nonce
    /// word 0.
    counter: u64,
    /// The most recently generated block.
    buf: [u8; BLOCK_LEN],
    /// Bytes of `buf` already handed out; `BLOCK_LEN` when it is used up.
    used: usize,
}

impl Stream {
    /// Key = the 8-byte little-endian seed, zero-padded to 32 bytes; nonce =
    /// `[0, stream low 32 bits, stream high 32 bits]`; counter starts at 0 (see the module
    /// documentation).
    pub fn new(seed: u64, stream: u64) -> Stream {
        let key = [seed as u32, (seed >> 32) as u32, 0, 0, 0, 0, 0, 0];
        let nonce = [0, stream as u32, (stream >> 32) as u32];
        Stream::from_parts(key, nonce, 0)
    }

    /// A stream over raw RFC 8439 inputs, starting at block `counter`: its first block is
    /// `block(&key, counter, &nonce)`, and later blocks carry a counter overflow into
    /// nonce word 0.
    fn from_parts(key: [u32; 8], nonce: [u32; 3], counter: u32) -> Stream {
        Stream {
            key,
            nonce_tail: [nonce[1], nonce[2]],
            counter: (u64::from(nonce[0]) << 32) | u64::from(counter),
            buf: [0; BLOCK_LEN],
            used: BLOCK_LEN,
        }
    }

    /// Fills `buf` with the next bytes of the stream.
    pub fn fill(&mut self, buf: &mut [u8]) {
        // Whatever is left of the current block comes first.
        let left = &self.buf[self.used..];
        let n = left.len().min(buf.len());
        let (head, rest) = buf.split_at_mut(n);
        head.copy_from_slice(&left[..n]);
        self.used += n;

        // Whole blocks go straight to the caller.
        let mut chunks = rest.chunks_exact_mut(BLOCK_LEN);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_block());
        }

        // A partial tail is served from a fresh block whose rest is kept for later.
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            self.buf = self.next_block();
            tail.copy_from_slice(&self.buf[..tail.len()]);
            self.used = tail.len();
        }
    }

    /// Generates the block at the current position and advances past it.
    fn next_block(&mut self) -> [u8; BLOCK_LEN] {
        let nonce = [
            (self.counter >> 32) as u32,
            self.nonce_tail[0],
            self.nonce_tail[1],
        ];
        let out = block(&self.key, self.counter as u32, &nonce);
        self.counter = self.counter.wrapping_add(1);
        out
    }
}

/// The ChaCha quarter round (RFC 8439 section 2.1) on four words of the state.
fn quarter_round(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// The raw block function, for tests: key, counter, nonce -> 64 bytes.
///
/// RFC 8439 section 2.3: the state is the four constants, the key, the counter and the
/// nonce; 20 rounds (10 column/diagonal double rounds) scramble a copy, the original is
/// added back word by word, and the words are serialized little-endian.
fn block(key: &[u32; 8], counter: u32, nonce: &[u32; 3]) -> [u8; 64] {
    let mut initial = [0u32; 16];
    initial[..4].copy_from_slice(&CONSTANTS);
    initial[4..12].copy_from_slice(key);
    initial[12] = counter;
    initial[13..].copy_from_slice(nonce);

    let mut s = initial;
    for _ in 0..10 {
        // Column round.
        quarter_round(&mut s, 0, 4, 8, 12);
        quarter_round(&mut s, 1, 5, 9, 13);
        quarter_round(&mut s, 2, 6, 10, 14);
        quarter_round(&mut s, 3, 7, 11, 15);
        // Diagonal round.
        quarter_round(&mut s, 0, 5, 10, 15);
        quarter_round(&mut s, 1, 6, 11, 12);
        quarter_round(&mut s, 2, 7, 8, 13);
        quarter_round(&mut s, 3, 4, 9, 14);
    }

    let mut out = [0u8; BLOCK_LEN];
    for ((bytes, word), init) in out.chunks_exact_mut(4).zip(s).zip(initial) {
        bytes.copy_from_slice(&word.wrapping_add(init).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes from whitespace-separated hex pairs.
    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// Little-endian words from bytes, as RFC 8439 reads keys and nonces.
    fn words<const N: usize>(bytes: &[u8]) -> [u32; N] {
        assert_eq!(bytes.len(), 4 * N);
        let mut out = [0u32; N];
        for (w, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_le_bytes(b.try_into().unwrap());
        }
        out
    }

    /// The key 00:01:02:...:1f used by the RFC's examples.
    fn rfc_key() -> [u32; 8] {
        let bytes: Vec<u8> = (0..32).collect();
        words(&bytes)
    }

    fn read(stream: &mut Stream, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        stream.fill(&mut v);
        v
    }

    /// RFC 8439 section 2.1.1, the quarter round test vector.
    #[test]
    fn quarter_round_of_section_2_1_1() {
        let mut s = [0u32; 16];
        s[..4].copy_from_slice(&[0x1111_1111, 0x0102_0304, 0x9b8d_6f43, 0x0123_4567]);
        quarter_round(&mut s, 0, 1, 2, 3);
        assert_eq!(s[..4], [0xea2a_92f4, 0xcb1c_f8ce, 0x4581_472e, 0x5881_c4bb]);
    }

    /// RFC 8439 section 2.3.2, "Test Vector for the ChaCha20 Block Function".
    #[test]
    fn block_of_section_2_3_2() {
        let nonce = words(&hex("00 00 00 09 00 00 00 4a 00 00 00 00"));
        let want = hex("10 f1 e7 e4 d1 3b 59 15 50 0f dd 1f a3 20 71 c4
             c7 d1 f4 c7 33 c0 68 03 04 22 aa 9a c3 d4 6c 4e
             d2 82 64 46 07 9f aa 09 14 c2 d7 05 d9 8b 02 a2
             b5 12 9c d1 de 16 4e b9 cb d0 83 e8 a2 50 3c 4e");
        assert_eq!(block(&rfc_key(), 1, &nonce).to_vec(), want);
    }

    /// RFC 8439 section 2.4.2, "Example and Test Vector for the ChaCha20 Cipher": the
    /// keystream from counter 1, XORed with the "sunscreen" plaintext.
    #[test]
    fn keystream_of_section_2_4_2() {
        let nonce = words(&hex("00 00 00 00 00 00 00 4a 00 00 00 00"));
        let plaintext: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer \
            you only one tip for the future, sunscreen would be it.";
        let want = hex("6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81
             e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b
             f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57
             16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8
             07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e
             52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36
             5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42
             87 4d");
        assert_eq!(plaintext.len(), 114);

        let mut stream = Stream::from_parts(rfc_key(), nonce, 1);
        let keystream = read(&mut stream, plaintext.len());
        let ciphertext: Vec<u8> = plaintext
            .iter()
            .zip(&keystream)
            .map(|(p, k)| p ^ k)
            .collect();
        assert_eq!(ciphertext, want);

        // The RFC also prints the keystream; spot-check the start of both blocks.
        assert_eq!(keystream[..4], hex("22 4f 51 f3")[..]);
        assert_eq!(keystream[64..68], hex("69 a6 74 9f")[..]);
    }

    /// `new` follows the documented derivation.
    #[test]
    fn new_derives_key_and_nonce_as_documented() {
        let seed = 0x0123_4567_89ab_cdef_u64;
        let stream = 0xfedc_ba98_7654_3210_u64;
        let key = [0x89ab_cdef, 0x0123_4567, 0, 0, 0, 0, 0, 0];
        let nonce = [0, 0x7654_3210, 0xfedc_ba98];
        let mut s = Stream::new(seed, stream);
        let mut want = block(&key, 0, &nonce).to_vec();
        want.extend_from_slice(&block(&key, 1, &nonce));
        assert_eq!(read(&mut s, 128), want);
    }

    /// `Stream::new(42, 0)`, first 80 bytes (block 0 and the start of block 1).
    const PINNED_SEED_42_STREAM_0: &str = "
        1f 76 e5 26 51 0a e3 6a 62 5c 8b 5c 59 7f eb b4
        16 04 2c ce 3d b5 89 b3 dc 82 a8 f7 a4 a8 66 26
        eb 60 41 28 71 0f d1 d8 04 26 4f 1a 5b 08 0a 60
        56 51 49 f2 16 a0 b5 28 d7 3e 96 ab 2d a9 8a c1
        12 72 17 d3 2d 3a 18 fa 9b 20 06 fc 94 56 1f 5c";

    /// A pinned output, so the stream for a given seed never changes unnoticed (recorded
    /// runs depend on it). Cross-checked with an independent implementation.
    #[test]
    fn seed_42_is_pinned() {
        let want = hex(PINNED_SEED_42_STREAM_0);
        assert_eq!(read(&mut Stream::new(42, 0), want.len()), want);
    }

    /// Past 2^32 blocks the counter carries into nonce word 0 instead of wrapping.
    #[test]
    fn counter_carries_into_the_nonce() {
        let key = rfc_key();
        let mut s = Stream::from_parts(key, [0, 7, 9], u32::MAX);
        let mut want = block(&key, u32::MAX, &[0, 7, 9]).to_vec();
        want.extend_from_slice(&block(&key, 0, &[1, 7, 9]));
        assert_eq!(read(&mut s, 128), want);
    }

    #[test]
    fn same_seed_and_stream_give_the_same_bytes() {
        let a = read(&mut Stream::new(42, 3), 1000);
        let b = read(&mut Stream::new(42, 3), 1000);
        assert_eq!(a, b);
    }

    #[test]
    fn seeds_and_streams_differ() {
        let base = read(&mut Stream::new(42, 0), 64);
        assert_ne!(base, read(&mut Stream::new(43, 0), 64));
        assert_ne!(base, read(&mut Stream::new(42, 1), 64));
        assert_ne!(
            read(&mut Stream::new(0, 1), 64),
            read(&mut Stream::new(1, 0), 64)
        );
    }

    #[test]
    fn split_reads_equal_one_read() {
        let whole = read(&mut Stream::new(7, 0), 103);
        let mut s = Stream::new(7, 0);
        let mut parts = read(&mut s, 3);
        parts.extend(read(&mut s, 100));
        assert_eq!(parts, whole);

        // Every split point of a 200-byte read, including empty reads and block edges.
        let whole = read(&mut Stream::new(7, 0), 200);
        for cut in 0..=200 {
            let mut s = Stream::new(7, 0);
            let mut parts = read(&mut s, cut);
            parts.extend(read(&mut s, 0));
            parts.extend(read(&mut s, 200 - cut));
            assert_eq!(parts, whole, "cut at {cut}");
        }
    }

    #[test]
    fn one_mebibyte_fill() {
        const MIB: usize = 1 << 20;
        let whole = read(&mut Stream::new(42, 0), MIB);
        assert!(whole.iter().any(|&b| b != 0));
        // No block repeats: each 64-byte block differs from the one before it.
        assert!(whole
            .chunks_exact(BLOCK_LEN)
            .zip(whole.chunks_exact(BLOCK_LEN).skip(1))
            .all(|(a, b)| a != b));

        // The same bytes in irregular pieces.
        let mut s = Stream::new(42, 0);
        let mut pieces = Vec::with_capacity(MIB);
        let sizes = [1, 63, 64, 65, 127, 4096, 3, 100_000];
        let mut i = 0;
        while pieces.len() < MIB {
            let n = sizes[i % sizes.len()].min(MIB - pieces.len());
            pieces.extend(read(&mut s, n));
            i += 1;
        }
        assert_eq!(pieces, whole);
    }
}
