//! Streaming gzip (RFC 1952) and DEFLATE (RFC 1951) decompression of layer archives.
//!
//! [`GzipReader`] pulls compressed bytes from any [`Read`] through a 32 KiB buffer and
//! hands out decompressed bytes; it holds at most the 32 KiB DEFLATE window plus one
//! chunk of fresh output, whatever the stream's size. Huffman codes decode through a
//! table indexed by the next 10 (literal/length) or 8 (distance) bits, with second-level
//! tables for longer codes, built the way zlib's `inflate_table` builds them and with its
//! checks: over-subscribed code lengths are refused, and so are incomplete ones except a
//! code of a single one-bit symbol.
//!
//! Every malformed input is an [`io::ErrorKind::InvalidData`] error naming the defect;
//! after any error the reader returns that error again.

use std::io::{self, Read};

/// The DEFLATE window: back-references reach at most this far.
const WSIZE: usize = 32 * 1024;
/// Output buffer: the window plus room for fresh output before sliding.
const OUT_SIZE: usize = 4 * WSIZE;
/// The longest back-reference.
const MAX_MATCH: usize = 258;
/// Decoding stops for the caller once output reaches this far into the buffer.
const OUT_LIMIT: usize = OUT_SIZE - MAX_MATCH;
/// Bytes pulled from the inner reader at a time.
const IN_SIZE: usize = 32 * 1024;
/// Primary table index bits for literal/length and distance codes.
const LIT_BITS: u32 = 10;
const DIST_BITS: u32 = 8;
/// Index bits of the code-length code table (its codes are at most 7 bits).
const CL_BITS: u32 = 7;

// A table entry is `value << 16 | flags << 8 | bits`: `bits` is the code length to
// consume (for a link: the primary index bits), `value` the literal, base length, base
// distance, code-length symbol or second-level table offset.
/// Literal byte (or code-length symbol).
const F_LIT: u32 = 0x40;
/// End of block.
const F_EOB: u32 = 0x20;
/// Link to a second-level table; the low nibble is its index bits.
const F_LINK: u32 = 0x10;
/// Base length or distance; the low nibble is the count of extra bits.
const F_BASE: u32 = 0x80;
// Flags 0: an invalid code (a symbol that may not appear, or an unused code).

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order in which code-length code lengths are sent (RFC 1951 3.2.7).
const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// gzip header flag bits (RFC 1952 2.3.1).
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xe0;

fn bad(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn truncated() -> io::Error {
    bad("gzip: truncated")
}

/// Whether `first_bytes` start like a gzip member (magic `1f 8b`).
pub fn is_gzip(first_bytes: &[u8]) -> bool {
    first_bytes.starts_with(&[0x1f, 0x8b])
}

/// Slicing-by-8 tables of the reflected IEEE CRC-32 (polynomial 0xEDB88320).
const CRC_TABLES: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            k += 1;
        }
        i += 1;
    }
    t
}

/// The IEEE CRC-32 (as gzip and zlib use it) of `data`, continuing from `crc` (start
/// with 0): `crc32(crc32(0, a), b) == crc32(0, a ++ b)`.
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let mut c = !crc;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let lo = c ^ u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]);
        let hi = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]);
        c = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xff) as usize]
            ^ t[2][((hi >> 8) & 0xff) as usize]
            ^ t[1][((hi >> 16) & 0xff) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = t[0][((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Which code a table decodes; decides the symbols' meaning and which incomplete codes
/// are accepted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Code {
    /// The code-length code of a dynamic block header.
    Lengths,
    /// Literal/length.
    Lit,
    /// Distance.
    Dist,
}

/// The table entry (without its bit count) of symbol `sym` of `code`.
fn sym_entry(code: Code, sym: usize) -> u32 {
    match code {
        Code::Lengths => (sym as u32) << 16 | F_LIT << 8,
        Code::Lit => match sym {
            0..=255 => (sym as u32) << 16 | F_LIT << 8,
            256 => F_EOB << 8,
            257..=285 => {
                let i = sym - 257;
                u32::from(LEN_BASE[i]) << 16 | (F_BASE | u32::from(LEN_EXTRA[i])) << 8
            }
            _ => 0,
        },
        Code::Dist => match sym {
            0..=29 => u32::from(DIST_BASE[sym]) << 16 | (F_BASE | u32::from(DIST_EXTRA[sym])) << 8,
            _ => 0,
        },
    }
}

/// Builds the decoding table of the canonical Huffman code with code lengths `lens`
/// (each <= 15, at most 320) into `table`: `1 << root` primary entries, then the
/// second-level tables. Refuses over-subscribed sets and incomplete ones other than a
/// single one-bit code (which zlib accepts for literal/length and distance codes); an
/// empty set gives a table of invalid entries.
fn build(lens: &[u8], root: u32, code: Code, table: &mut Vec<u32>) -> Result<(), &'static str> {
    let mut count = [0u16; 16];
    for &l in lens {
        count[usize::from(l & 15)] += 1;
    }
    count[0] = 0;
    table.clear();
    table.resize(1 << root, 0);
    let max = (1..16).rev().find(|&l| count[l] != 0).unwrap_or(0) as u32;
    if max == 0 {
        return Ok(());
    }
    let mut left: i32 = 1;
    for &c in &count[1..] {
        left = (left << 1) - i32::from(c);
        if left < 0 {
            return Err("deflate: over-subscribed code lengths");
        }
    }
    if left > 0 && (code == Code::Lengths || max != 1) {
        return Err("deflate: incomplete code lengths");
    }
    // Symbols sorted by code length, then by value: the order of their canonical codes.
    let mut offs = [0u16; 16];
    for l in 1..15 {
        offs[l + 1] = offs[l] + count[l];
    }
    let mut sorted = [0u16; 320];
    for (sym, &l) in lens.iter().enumerate() {
        if l != 0 {
            let o = &mut offs[usize::from(l & 15)];
            sorted[usize::from(*o)] = sym as u16;
            *o += 1;
        }
    }
    let total: usize = count.iter().map(|&c| usize::from(c)).sum();
    let mut remaining = count;
    let root_mask = (1u32 << root) - 1;
    let mut next: u32 = 0; // the next canonical code, most significant bit first
    let mut cur_len = 0u32;
    let (mut sub_low, mut sub_base, mut sub_bits) = (u32::MAX, 0usize, 0u32);
    for &sym in &sorted[..total] {
        let sym = usize::from(sym);
        let len = u32::from(lens[sym]);
        next <<= len - cur_len;
        cur_len = len;
        let rev = next.reverse_bits() >> (32 - len);
        let entry = sym_entry(code, sym) | len;
        if len <= root {
            let mut i = rev as usize;
            while i < table.len().min(1 << root) {
                table[i] = entry;
                i += 1 << len;
            }
        } else {
            let low = rev & root_mask;
            if low != sub_low {
                // A new second-level table, as large as the longest code under `low`.
                let mut bits = len - root;
                let mut room: i32 = 1 << bits;
                while bits + root < max {
                    room -= i32::from(remaining[(bits + root) as usize]);
                    if room <= 0 {
                        break;
                    }
                    bits += 1;
                    room <<= 1;
                }
                sub_low = low;
                sub_base = table.len();
                sub_bits = bits;
                table.resize(sub_base + (1 << bits), 0);
                table[low as usize] = (sub_base as u32) << 16 | (F_LINK | bits) << 8 | root;
            }
            let mut i = (rev >> root) as usize;
            while i < 1 << sub_bits {
                table[sub_base + i] = entry;
                i += 1 << (len - root);
            }
        }
        remaining[len as usize] -= 1;
        next += 1;
    }
    Ok(())
}

/// Buffered input with a little-endian bit buffer in front of it.
///
/// Bits of `bits` above `nbits` are either zero or the next unread input bits (a
/// whole-word refill loads more than it counts), so or-ing in the next byte is exact.
struct Input<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
    bits: u64,
    nbits: u32,
}

impl<R: Read> Input<R> {
    /// Refills `buf` from the inner reader once it is used up; sets `eof` at its end.
    fn fill(&mut self) -> io::Result<()> {
        while self.pos == self.len && !self.eof {
            match self.inner.read(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.pos = 0;
                    self.len = n.min(self.buf.len());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Tops the bit buffer up to 56..=63 bits, or to all that is left of the input.
    #[inline]
    fn refill(&mut self) -> io::Result<()> {
        if self.len - self.pos < 8 {
            return self.refill_slow();
        }
        let w = &self.buf[self.pos..self.pos + 8];
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        self.bits |= w << self.nbits;
        self.pos += ((63 - self.nbits) >> 3) as usize;
        self.nbits |= 56;
        Ok(())
    }

    /// Byte by byte, reading the inner reader as needed; stops below 64 bits so that
    /// `nbits` stays a valid shift.
    #[cold]
    fn refill_slow(&mut self) -> io::Result<()> {
        while self.nbits < 56 {
            if self.pos < self.len {
                self.bits |= u64::from(self.buf[self.pos]) << self.nbits;
                self.pos += 1;
                self.nbits += 8;
            } else if self.eof {
                break;
            } else {
                self.fill()?;
            }
        }
        Ok(())
    }

    /// The next `n` (<= 32) bits as a number, least significant first.
    #[inline]
    fn get(&mut self, n: u32) -> io::Result<u32> {
        if self.nbits < n {
            self.refill()?;
            if self.nbits < n {
                return Err(truncated());
            }
        }
        let v = (self.bits & ((1u64 << n) - 1)) as u32;
        self.bits >>= n;
        self.nbits -= n;
        Ok(v)
    }

    fn byte(&mut self) -> io::Result<u8> {
        Ok(self.get(8)? as u8)
    }

    /// Drops the bits up to the next byte boundary.
    fn align(&mut self) {
        let n = self.nbits & 7;
        self.bits >>= n;
        self.nbits -= n;
    }

    /// Whether the input holds no byte beyond those consumed.
    fn at_end(&mut self) -> io::Result<bool> {
        self.refill()?;
        Ok(self.nbits == 0)
    }

    /// Decodes one symbol with `table` (primary index `root` bits); returns its entry.
    #[inline]
    fn decode(&mut self, table: &[u32], root: u32) -> io::Result<u32> {
        if self.nbits < 15 {
            self.refill()?;
        }
        let mask = (1u64 << root) - 1;
        let mut e = table[(self.bits & mask) as usize];
        if (e >> 8) & F_LINK != 0 {
            let sub_mask = (1u64 << ((e >> 8) & 15)) - 1;
            let i = (e >> 16) as usize + ((self.bits >> root) & sub_mask) as usize;
            e = table.get(i).copied().unwrap_or(0);
        }
        let n = e & 0xff;
        if n > self.nbits {
            return Err(truncated());
        }
        self.bits >>= n;
        self.nbits -= n;
        Ok(e)
    }
}

/// Where the decoder stands in the stream.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a member's header.
    Header,
    /// Before a block header (or the trailer, after the last block).
    Block,
    /// Inside a stored block, with this many bytes left.
    Stored(u16),
    /// Inside a Huffman-coded block.
    Huffman,
    /// After the last member.
    Done,
}

/// Decompresses a gzip stream of one or more members read from `R`; the stream must
/// end after a member (trailing bytes must form another valid member). Input is read
/// ahead in 32 KiB pieces. Every error is final, the inner reader's too (`Interrupted`
/// is retried).
pub struct GzipReader<R: Read> {
    input: Input<R>,
    /// Output: the window (recent history) then the bytes not yet handed out,
    /// `out[rpos..opos]`.
    out: Box<[u8]>,
    opos: usize,
    rpos: usize,
    lit: Vec<u32>,
    dist: Vec<u32>,
    /// Whether `lit`/`dist` hold the fixed code.
    fixed: bool,
    state: State,
    /// Whether the current block is the member's last.
    last: bool,
    /// CRC-32 and size (mod 2^32) of the member's output so far.
    crc: u32,
    size: u32,
    failed: Option<(io::ErrorKind, String)>,
}

impl<R: Read> GzipReader<R> {
    /// A reader of the gzip stream `inner`; nothing is read until the first `read`.
    pub fn new(inner: R) -> GzipReader<R> {
        GzipReader {
            input: Input {
                inner,
                buf: vec![0; IN_SIZE].into_boxed_slice(),
                pos: 0,
                len: 0,
                eof: false,
                bits: 0,
                nbits: 0,
            },
            out: vec![0; OUT_SIZE].into_boxed_slice(),
            opos: 0,
            rpos: 0,
            lit: Vec::new(),
            dist: Vec::new(),
            fixed: false,
            state: State::Header,
            last: false,
            crc: 0,
            size: 0,
            failed: None,
        }
    }

    /// Advances the decoder: reads a header or trailer, or decodes one chunk of output
    /// into `out`. Called only when all output has been handed out.
    fn step(&mut self) -> io::Result<()> {
        match self.state {
            State::Header => {
                self.header()?;
                self.opos = 0;
                self.rpos = 0;
                self.crc = 0;
                self.size = 0;
                self.last = false;
                self.state = State::Block;
            }
            State::Block if self.last => self.trailer()?,
            State::Block => self.block_header()?,
            State::Stored(left) => {
                self.slide();
                let start = self.opos;
                let left = self.stored(left)?;
                self.account(start);
                self.state = if left == 0 {
                    State::Block
                } else {
                    State::Stored(left)
                };
            }
            State::Huffman => {
                self.slide();
                let start = self.opos;
                let end = self.huffman();
                self.account(start);
                if end? {
                    self.state = State::Block;
                }
            }
            State::Done => {}
        }
        Ok(())
    }

    /// Adds `out[start..opos]` to the member's CRC and size.
    fn account(&mut self, start: usize) {
        let fresh = &self.out[start..self.opos];
        self.crc = crc32(self.crc, fresh);
        self.size = self.size.wrapping_add(fresh.len() as u32);
    }

    /// Once output nears the buffer's end, moves the last 32 KiB (the window) to its
    /// start.
    fn slide(&mut self) {
        if self.opos >= OUT_LIMIT {
            self.out.copy_within(self.opos - WSIZE..self.opos, 0);
            self.opos = WSIZE;
            self.rpos = WSIZE;
        }
    }

    /// Reads a member header (RFC 1952 2.3), checking its CRC-16 if it has one.
    fn header(&mut self) -> io::Result<()> {
        let mut crc = 0;
        let mut fixed = [0u8; 10];
        for i in 0..fixed.len() {
            fixed[i] = self.input.byte()?;
            if i == 1 && !is_gzip(&fixed) {
                return Err(bad("gzip: bad header magic"));
            }
        }
        crc = crc32(crc, &fixed);
        if fixed[2] != 8 {
            return Err(bad("gzip: unknown compression method"));
        }
        let flags = fixed[3];
        if flags & FRESERVED != 0 {
            return Err(bad("gzip: reserved header flags set"));
        }
        if flags & FEXTRA != 0 {
            let lo = self.input.byte()?;
            let hi = self.input.byte()?;
            crc = crc32(crc, &[lo, hi]);
            for _ in 0..u16::from_le_bytes([lo, hi]) {
                crc = crc32(crc, &[self.input.byte()?]);
            }
        }
        for flag in [FNAME, FCOMMENT] {
            if flags & flag != 0 {
                loop {
                    let b = self.input.byte()?;
                    crc = crc32(crc, &[b]);
                    if b == 0 {
                        break;
                    }
                }
            }
        }
        if flags & FHCRC != 0 {
            let want = self.input.get(16)?;
            if want != crc & 0xffff {
                return Err(bad("gzip: header CRC mismatch"));
            }
        }
        Ok(())
    }

    /// Reads a member trailer (CRC-32, ISIZE) and checks it against the output; then
    /// expects the end of input or another member.
    fn trailer(&mut self) -> io::Result<()> {
        self.input.align();
        let crc = self.input.get(16)? | self.input.get(16)? << 16;
        let size = self.input.get(16)? | self.input.get(16)? << 16;
        if crc != self.crc {
            return Err(bad("gzip: CRC-32 mismatch"));
        }
        if size != self.size {
            return Err(bad("gzip: length mismatch"));
        }
        self.state = if self.input.at_end()? {
            State::Done
        } else {
            State::Header
        };
        Ok(())
    }

    /// Reads a block header (RFC 1951 3.2.3) and prepares to decode the block.
    fn block_header(&mut self) -> io::Result<()> {
        self.last = self.input.get(1)? == 1;
        match self.input.get(2)? {
            0 => {
                self.input.align();
                let len = self.input.get(16)?;
                let nlen = self.input.get(16)?;
                if len != !nlen & 0xffff {
                    return Err(bad("deflate: stored block length mismatch"));
                }
                self.state = State::Stored(len as u16);
            }
            1 => {
                if !self.fixed {
                    let mut lens = [0u8; 288];
                    lens[..144].fill(8);
                    lens[144..256].fill(9);
                    lens[256..280].fill(7);
                    lens[280..].fill(8);
                    build(&lens, LIT_BITS, Code::Lit, &mut self.lit).map_err(bad)?;
                    build(&[5; 32], DIST_BITS, Code::Dist, &mut self.dist).map_err(bad)?;
                    self.fixed = true;
                }
                self.state = State::Huffman;
            }
            2 => {
                self.fixed = false;
                self.dynamic_header()?;
                self.state = State::Huffman;
            }
            _ => return Err(bad("deflate: invalid block type")),
        }
        Ok(())
    }

    /// Reads the code lengths of a dynamic block (RFC 1951 3.2.7) and builds its tables.
    fn dynamic_header(&mut self) -> io::Result<()> {
        let nlit = self.input.get(5)? as usize + 257;
        let ndist = self.input.get(5)? as usize + 1;
        let ncl = self.input.get(4)? as usize + 4;
        if nlit > 286 || ndist > 30 {
            return Err(bad("deflate: too many length or distance symbols"));
        }
        let mut cl_lens = [0u8; 19];
        for &i in &CL_ORDER[..ncl] {
            cl_lens[i] = self.input.get(3)? as u8;
        }
        let mut cl = Vec::with_capacity(1 << CL_BITS);
        build(&cl_lens, CL_BITS, Code::Lengths, &mut cl).map_err(bad)?;
        if cl_lens.iter().all(|&l| l == 0) {
            return Err(bad("deflate: empty code length code"));
        }
        let mut lens = [0u8; 286 + 30];
        let n = nlit + ndist;
        let mut i = 0;
        while i < n {
            let e = self.input.decode(&cl, CL_BITS)?;
            if (e >> 8) & F_LIT == 0 {
                return Err(bad("deflate: invalid code length code"));
            }
            let (value, repeat) = match e >> 16 {
                sym @ 0..=15 => (sym as u8, 1),
                16 => {
                    let Some(&prev) = i.checked_sub(1).map(|p| &lens[p]) else {
                        return Err(bad("deflate: length repeat with no previous length"));
                    };
                    (prev, 3 + self.input.get(2)? as usize)
                }
                17 => (0, 3 + self.input.get(3)? as usize),
                _ => (0, 11 + self.input.get(7)? as usize),
            };
            if i + repeat > n {
                return Err(bad("deflate: code length repeat too long"));
            }
            lens[i..i + repeat].fill(value);
            i += repeat;
        }
        if lens[256] == 0 {
            return Err(bad("deflate: missing end-of-block code"));
        }
        build(&lens[..nlit], LIT_BITS, Code::Lit, &mut self.lit).map_err(bad)?;
        build(&lens[nlit..n], DIST_BITS, Code::Dist, &mut self.dist).map_err(bad)?;
        Ok(())
    }

    /// Copies up to `left` bytes of a stored block into `out`; returns how many remain.
    fn stored(&mut self, mut left: u16) -> io::Result<u16> {
        let inp = &mut self.input;
        while left > 0 && inp.nbits >= 8 && self.opos < OUT_LIMIT {
            self.out[self.opos] = inp.bits as u8;
            inp.bits >>= 8;
            inp.nbits -= 8;
            self.opos += 1;
            left -= 1;
        }
        if inp.nbits == 0 {
            inp.bits = 0; // no longer ahead of `pos`: bytes are taken from `buf` directly
        }
        while left > 0 && self.opos < OUT_LIMIT {
            inp.fill()?;
            let avail = inp.len - inp.pos;
            if avail == 0 {
                return Err(truncated());
            }
            let n = avail.min(usize::from(left)).min(OUT_LIMIT - self.opos);
            self.out[self.opos..self.opos + n].copy_from_slice(&inp.buf[inp.pos..inp.pos + n]);
            inp.pos += n;
            self.opos += n;
            left -= n as u16;
        }
        Ok(left)
    }

    /// Decodes symbols of a Huffman block into `out` until it is nearly full (false) or
    /// the block ends (true).
    fn huffman(&mut self) -> io::Result<bool> {
        let (inp, out) = (&mut self.input, &mut self.out);
        let mut opos = self.opos;
        let result = loop {
            if opos >= OUT_LIMIT {
                break Ok(false);
            }
            let e = match inp.decode(&self.lit, LIT_BITS) {
                Ok(e) => e,
                Err(err) => break Err(err),
            };
            let flags = (e >> 8) & 0xff;
            if flags & F_LIT != 0 {
                out[opos] = (e >> 16) as u8;
                opos += 1;
                continue;
            }
            if flags & F_BASE == 0 {
                break if flags & F_EOB != 0 {
                    Ok(true)
                } else {
                    Err(bad("deflate: invalid literal/length code"))
                };
            }
            match copy_match(inp, &self.dist, e, out, opos) {
                Ok(n) => opos += n,
                Err(err) => break Err(err),
            }
        };
        self.opos = opos;
        result
    }
}

/// Reads the distance of a back-reference whose length entry is `len_entry` and copies
/// it to `out[opos..]`; returns its length.
#[inline]
fn copy_match<R: Read>(
    inp: &mut Input<R>,
    dist_table: &[u32],
    len_entry: u32,
    out: &mut [u8],
    opos: usize,
) -> io::Result<usize> {
    let len = (len_entry >> 16) as usize + inp.get((len_entry >> 8) & 15)? as usize;
    let d = inp.decode(dist_table, DIST_BITS)?;
    if (d >> 8) & F_BASE == 0 {
        return Err(bad("deflate: invalid distance code"));
    }
    let dist = (d >> 16) as usize + inp.get((d >> 8) & 15)? as usize;
    if dist > opos {
        return Err(bad("deflate: distance too far back"));
    }
    let start = opos - dist;
    let end = opos + len;
    if dist >= len {
        out.copy_within(start..start + len, opos);
    } else if dist == 1 {
        let b = out[start];
        out[opos..end].fill(b);
    } else {
        // Overlapping: out[start..cur] repeats with period `dist`, so copying a prefix
        // of it of at most its own length extends the repetition.
        let mut cur = opos;
        while cur < end {
            let n = (cur - start).min(end - cur);
            out.copy_within(start..start + n, cur);
            cur += n;
        }
    }
    Ok(len)
}

impl<R: Read> Read for GzipReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, msg)) = &self.failed {
            return Err(io::Error::new(*kind, msg.clone()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.rpos < self.opos {
                let n = buf.len().min(self.opos - self.rpos);
                buf[..n].copy_from_slice(&self.out[self.rpos..self.rpos + n]);
                self.rpos += n;
                return Ok(n);
            }
            if self.state == State::Done {
                return Ok(0);
            }
            if let Err(e) = self.step() {
                self.failed = Some((e.kind(), e.to_string()));
                self.rpos = self.opos;
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
#[path = "inflate_tests.rs"]
mod tests;
