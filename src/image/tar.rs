//! Reading tar archives as container tools write layers: POSIX ustar and pax, and GNU
//! (long names and links, base-256 numbers).
//!
//! [`TarReader`] streams: it reads one 512-byte header at a time, folds the metadata
//! entries (pax `x`, GNU `L`/`K`, and pax `g`, which is skipped) into the entry they
//! describe, and reads that entry's data only when asked. Metadata is bounded (1 MiB
//! for the metadata entries before one entry), and every defect is an
//! [`io::ErrorKind::InvalidData`] error.

use std::io::{self, Read, Write};

/// The tar block size.
const BLOCK: usize = 512;
/// The most metadata (pax records, GNU long names) held for one entry.
const META_MAX: u64 = 1 << 20;

/// What an entry is, from its type flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (`0`, NUL, or `7`, contiguous).
    File,
    /// A directory (`5`, or an old-style NUL-type entry whose path ends in `/`).
    Dir,
    /// A symbolic link (`2`) to [`Entry::link`].
    Symlink,
    /// A hard link (`1`) to the earlier entry named [`Entry::link`].
    Hardlink,
    /// A character device (`3`).
    CharDev,
    /// A block device (`4`).
    BlockDev,
    /// A named pipe (`6`).
    Fifo,
    /// Any other type flag (GNU sparse `S`, volume labels, ...); its data is
    /// [`Entry::size`] bytes as for a file.
    Other(u8),
}

impl Kind {
    fn from_flag(flag: u8) -> Kind {
        match flag {
            b'0' | 0 | b'7' => Kind::File,
            b'1' => Kind::Hardlink,
            b'2' => Kind::Symlink,
            b'3' => Kind::CharDev,
            b'4' => Kind::BlockDev,
            b'5' => Kind::Dir,
            b'6' => Kind::Fifo,
            other => Kind::Other(other),
        }
    }

    /// Whether entries of this kind carry no data, whatever their size field says.
    fn header_only(self) -> bool {
        !matches!(self, Kind::File | Kind::Other(_))
    }
}

/// One archive member, with the metadata entries before it applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The path as stored (pax `path`, a GNU long name, or ustar prefix `/` name).
    pub path: Vec<u8>,
    /// What the entry is.
    pub kind: Kind,
    /// Permission bits, with setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: u32,
    /// Owner (pax `uid` if given).
    pub uid: u64,
    /// Group (pax `gid` if given).
    pub gid: u64,
    /// Bytes of data that follow (pax `size` if given); 0 for kinds that have none
    /// (directories, links, devices, pipes).
    pub size: u64,
    /// Modification time in seconds since the epoch (pax `mtime`, fraction dropped).
    pub mtime: i64,
    /// Link target (pax `linkpath`, a GNU long link, or the linkname field); empty
    /// unless a link.
    pub link: Vec<u8>,
    /// Device major number (devices only; else 0).
    pub dev_major: u32,
    /// Device minor number (devices only; else 0).
    pub dev_minor: u32,
    /// Extended attributes from pax `SCHILY.xattr.NAME` and `LIBARCHIVE.xattr.NAME`
    /// records (names percent-decoded, values base64-decoded for the latter), as
    /// (name, value); one per name, the last record winning.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

fn bad(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn truncated() -> io::Error {
    bad("tar: truncated archive")
}

/// Overrides gathered from pax `x` and GNU `L`/`K` entries for the next entry.
#[derive(Default)]
struct Pending {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    /// GNU long name and link (`L`, `K`); pax records take precedence.
    long_path: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<i64>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bytes of metadata read for the entry so far.
    bytes: u64,
    /// Whether any metadata entry was seen.
    any: bool,
}

/// Where the reader stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between entries, or in an entry's data.
    Open,
    /// The end of the archive was read.
    End,
    /// An error was returned; the position in the stream is unknown.
    Failed,
}

/// Reads a tar archive entry by entry from `R`.
///
/// Call [`TarReader::next_entry`] for each header; the entry's data is then read
/// through the reader itself (it implements [`Read`], ending with the entry's data) or
/// [`TarReader::read_data`]. Data left unread is skipped by the next `next_entry`.
pub struct TarReader<R: Read> {
    inner: R,
    /// Data bytes of the current entry not yet read.
    left: u64,
    /// Padding after the current entry's data, up to the next block.
    pad: u64,
    state: State,
}

impl<R: Read> TarReader<R> {
    /// A reader of the archive `inner`, positioned at its first header.
    pub fn new(inner: R) -> TarReader<R> {
        TarReader {
            inner,
            left: 0,
            pad: 0,
            state: State::Open,
        }
    }

    /// The next entry, after skipping what is left of the current one; `None` at the
    /// end of the archive (two zero blocks, or the end of input at a block boundary).
    pub fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        match self.state {
            State::End => return Ok(None),
            State::Failed => return Err(bad("tar: archive unreadable after an error")),
            State::Open => {}
        }
        let result = self.next_inner();
        match &result {
            Err(_) => self.state = State::Failed,
            Ok(None) => self.state = State::End,
            Ok(Some(_)) => {}
        }
        result
    }

    /// Copies the rest of the current entry's data to `out`; returns how many bytes.
    pub fn read_data(&mut self, out: &mut impl Write) -> io::Result<u64> {
        io::copy(self, out)
    }

    /// The inner reader, positioned wherever reading stopped.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn next_inner(&mut self) -> io::Result<Option<Entry>> {
        self.skip(self.left + self.pad)?;
        self.left = 0;
        self.pad = 0;
        let mut pending = Pending::default();
        loop {
            let Some(block) = self.read_block()? else {
                return end(&pending);
            };
            if block.iter().all(|&b| b == 0) {
                return match self.read_block()? {
                    Some(b) if b.iter().any(|&b| b != 0) => {
                        Err(bad("tar: data after a single zero block"))
                    }
                    _ => end(&pending),
                };
            }
            check_sum(&block)?;
            let flag = block[156];
            let size = unsigned(&block[124..136])?;
            match flag {
                b'x' | b'L' | b'K' => {
                    pending.any = true;
                    pending.bytes += size;
                    if pending.bytes > META_MAX {
                        return Err(bad("tar: metadata entries larger than 1 MiB"));
                    }
                    let mut data = vec![0; size as usize];
                    self.read_full(&mut data)?;
                    self.skip(padding(size))?;
                    match flag {
                        b'x' => parse_pax(&data, &mut pending)?,
                        b'L' => pending.long_path = Some(until_nul(&data).to_vec()),
                        _ => pending.long_link = Some(until_nul(&data).to_vec()),
                    }
                }
                b'g' => self.skip(size.saturating_add(padding(size)))?,
                _ => {
                    let entry = entry(&block, flag, size, pending)?;
                    self.left = entry.size;
                    self.pad = padding(entry.size);
                    return Ok(Some(entry));
                }
            }
        }
    }

    /// Reads one block; `None` at the end of input before its first byte.
    fn read_block(&mut self) -> io::Result<Option<[u8; BLOCK]>> {
        let mut block = [0u8; BLOCK];
        let mut got = 0;
        while got < BLOCK {
            match self.inner.read(&mut block[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(truncated()),
                Ok(n) => got += n.min(BLOCK - got),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Some(block))
    }

    fn read_full(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => truncated(),
            _ => e,
        })
    }

    /// Reads and drops `n` bytes.
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        if copied < n {
            return Err(truncated());
        }
        Ok(())
    }
}

/// Reads the current entry's data; returns 0 at its end.
impl<R: Read> Read for TarReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() || self.state != State::Open {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?.min(max);
        if n == 0 {
            self.state = State::Failed;
            return Err(truncated());
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The end of the archive: fine unless metadata entries wait for an entry.
fn end(pending: &Pending) -> io::Result<Option<Entry>> {
    if pending.any {
        return Err(bad("tar: metadata entry at the end of the archive"));
    }
    Ok(None)
}

fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// `field` up to its first NUL.
fn until_nul(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(i) => &field[..i],
        None => field,
    }
}

/// Checks the header checksum: the sum of the header's bytes with the checksum field
/// as spaces, unsigned (POSIX) or signed (some old tars).
fn check_sum(h: &[u8; BLOCK]) -> io::Result<()> {
    let want = unsigned(&h[148..156]).map_err(|_| bad("tar: bad header checksum"))?;
    let (mut sum, mut ssum) = (0u64, 0i64);
    for (i, &b) in h.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        sum += u64::from(b);
        ssum += i64::from(b as i8);
    }
    if want == sum || i64::try_from(want) == Ok(ssum) {
        Ok(())
    } else {
        Err(bad("tar: bad header checksum"))
    }
}

/// A numeric header field: octal digits (spaces around, NUL-terminated), or GNU
/// base-256 (first byte with its high bit set, two's complement big-endian).
fn numeric(field: &[u8]) -> io::Result<i64> {
    let invalid = || bad("tar: invalid numeric field");
    if let Some(&first) = field.first() {
        if first & 0x80 != 0 {
            let inv = if first & 0x40 != 0 { 0xff } else { 0 };
            let mut x: u64 = 0;
            for (i, &c) in field.iter().enumerate() {
                let c = if i == 0 { (c ^ inv) & 0x7f } else { c ^ inv };
                if x >> 56 != 0 {
                    return Err(invalid());
                }
                x = x << 8 | u64::from(c);
            }
            let x = i64::try_from(x).map_err(|_| invalid())?;
            return Ok(if inv == 0xff { !x } else { x });
        }
    }
    let digits = until_nul(field).trim_ascii();
    let mut v: i64 = 0;
    for &d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return Err(invalid());
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(v)
}

/// A numeric field that may not be negative.
fn unsigned(field: &[u8]) -> io::Result<u64> {
    u64::try_from(numeric(field)?).map_err(|_| bad("tar: negative numeric field"))
}

/// A pax decimal (`size`, `uid`, `gid`); an empty value means none.
fn pax_number(v: &[u8]) -> io::Result<Option<u64>> {
    if v.is_empty() {
        return Ok(None);
    }
    std::str::from_utf8(v)
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .map(Some)
        .ok_or_else(|| bad("tar: invalid pax number"))
}

/// A pax time (`[-]seconds[.fraction]`), fraction dropped; an empty value means none.
fn pax_time(v: &[u8]) -> io::Result<Option<i64>> {
    if v.is_empty() {
        return Ok(None);
    }
    let invalid = || bad("tar: invalid pax time");
    let (neg, v) = match v.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let (secs, frac) = match v.iter().position(|&b| b == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &[][..]),
    };
    if secs.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let secs: i64 = pax_number(secs)?
        .and_then(|s| i64::try_from(s).ok())
        .ok_or_else(invalid)?;
    Ok(Some(if neg { -secs } else { secs }))
}

/// Folds the records of a pax extended header (`LEN KEY=VALUE\n`, LEN counting the
/// whole record) into `p`.
fn parse_pax(mut data: &[u8], p: &mut Pending) -> io::Result<()> {
    let invalid = || bad("tar: invalid pax record");
    while !data.is_empty() {
        let sp = data
            .iter()
            .take(20)
            .position(|&b| b == b' ')
            .ok_or_else(invalid)?;
        let len = pax_number(&data[..sp])?.ok_or_else(invalid)?;
        let len = usize::try_from(len).map_err(|_| invalid())?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(invalid());
        }
        let record = &data[sp + 1..len - 1];
        data = &data[len..];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(invalid)?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        let nonempty = (!value.is_empty()).then(|| value.to_vec());
        match key {
            b"path" => p.path = nonempty,
            b"linkpath" => p.link = nonempty,
            b"size" => p.size = pax_number(value)?,
            b"uid" => p.uid = pax_number(value)?,
            b"gid" => p.gid = pax_number(value)?,
            b"mtime" => p.mtime = pax_time(value)?,
            _ => {
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    set_xattr(&mut p.xattrs, name.to_vec(), value.to_vec());
                } else if let Some(name) = key.strip_prefix(b"LIBARCHIVE.xattr.") {
                    let name = percent_decode(name).ok_or_else(invalid)?;
                    let value = base64_decode(value).ok_or_else(invalid)?;
                    set_xattr(&mut p.xattrs, name, value);
                }
            }
        }
    }
    Ok(())
}

fn set_xattr(xattrs: &mut Vec<(Vec<u8>, Vec<u8>)>, name: Vec<u8>, value: Vec<u8>) {
    match xattrs.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => xattrs.push((name, value)),
    }
}

/// Undoes libarchive's URL encoding of xattr names (`%XX`).
fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let hex = |c: u8| char::from(c).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hi = hex(*s.get(i + 1)?)?;
            let lo = hex(*s.get(i + 2)?)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Standard base64, `=` padding optional (libarchive leaves it out).
fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let s = s.strip_suffix(b"==").or(s.strip_suffix(b"=")).unwrap_or(s);
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = acc << 6 | value(c)?;
        }
        acc <<= 6 * (4 - chunk.len() as u32);
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// The entry of header `h` (type `flag`, size field `size`), with `p` applied.
fn entry(h: &[u8; BLOCK], flag: u8, size: u64, p: Pending) -> io::Result<Entry> {
    let name = until_nul(&h[..100]);
    let prefix = until_nul(&h[345..500]);
    let path = match p.path.or(p.long_path) {
        Some(path) => path,
        None if &h[257..263] == b"ustar\0" && !prefix.is_empty() => [prefix, b"/", name].concat(),
        None => name.to_vec(),
    };
    let mut kind = Kind::from_flag(flag);
    if flag == 0 && path.ends_with(b"/") {
        kind = Kind::Dir;
    }
    let mode = (unsigned(&h[100..108])? & 0o7777) as u32;
    let uid = match p.uid {
        Some(v) => v,
        None => unsigned(&h[108..116])?,
    };
    let gid = match p.gid {
        Some(v) => v,
        None => unsigned(&h[116..124])?,
    };
    let mtime = match p.mtime {
        Some(v) => v,
        None => numeric(&h[136..148])?,
    };
    let size = if kind.header_only() {
        0
    } else {
        p.size.unwrap_or(size)
    };
    let link = match kind {
        Kind::Symlink | Kind::Hardlink => match p.link.or(p.long_link) {
            Some(link) => link,
            None => until_nul(&h[157..257]).to_vec(),
        },
        _ => Vec::new(),
    };
    let (mut dev_major, mut dev_minor) = (0, 0);
    if matches!(kind, Kind::CharDev | Kind::BlockDev) {
        let dev = |f: &[u8]| {
            u32::try_from(unsigned(f)?).map_err(|_| bad("tar: device number out of range"))
        };
        dev_major = dev(&h[329..337])?;
        dev_minor = dev(&h[337..345])?;
    }
    Ok(Entry {
        path,
        kind,
        mode,
        uid,
        gid,
        size,
        mtime,
        link,
        dev_major,
        dev_minor,
        xattrs: p.xattrs,
    })
}

#[cfg(test)]
#[path = "tar_tests.rs"]
mod tests;
