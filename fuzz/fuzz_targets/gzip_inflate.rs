//! gzip/DEFLATE decoding: never panics and ends on any input (read up to a 16 MiB cap);
//! reading in small pieces gives exactly what reading in large ones gives, error
//! included. An odd first byte puts a valid gzip header before the rest, so that the
//! fuzzer reaches the DEFLATE decoder without first finding the magic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::image::inflate::GzipReader;
use std::io::Read;

const CAP: usize = 16 << 20;

/// The output (up to `CAP`) in reads of `chunk` bytes, and the error that ended it.
fn read_all(input: &[u8], chunk: usize) -> (Vec<u8>, Option<String>) {
    let mut r = GzipReader::new(input);
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    while out.len() < CAP {
        match r.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => {
                assert!(n <= chunk);
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
                let again = r.read(&mut buf).expect_err("an error sticks");
                assert_eq!(again.to_string(), e.to_string());
                return (out, Some(e.to_string()));
            }
        }
    }
    out.truncate(CAP);
    (out, Some("cap".into()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input = if mode & 1 == 1 {
        [&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3][..], rest].concat()
    } else {
        data.to_vec()
    };
    let (big, big_err) = read_all(&input, 1 << 16);
    let (small, small_err) = read_all(&input, 1 + usize::from(mode >> 1));
    if big_err.as_deref() == Some("cap") || small_err.as_deref() == Some("cap") {
        let n = big.len().min(small.len());
        assert!(big[..n] == small[..n]);
        return;
    }
    assert!(big == small);
    assert_eq!(big_err, small_err);
});
