//! Tar reading: never panics and ends on any input; an entry's data is exactly its
//! size; skipping the data gives the same entries, and the same outcome, as reading it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::image::tar::{Entry, TarReader};

/// Every entry (reading its data or not), and the error that ended the archive.
fn entries(data: &[u8], read: bool) -> (Vec<Entry>, Option<String>) {
    let mut r = TarReader::new(data);
    let mut out = Vec::new();
    loop {
        match r.next_entry() {
            Ok(Some(e)) => {
                if read {
                    match r.read_data(&mut std::io::sink()) {
                        Ok(n) => assert_eq!(n, e.size),
                        Err(err) => {
                            out.push(e);
                            assert!(r.next_entry().is_err(), "an error sticks");
                            return (out, Some(err.to_string()));
                        }
                    }
                }
                assert!(e.size <= data.len() as u64 || !read);
                out.push(e);
            }
            Ok(None) => return (out, None),
            Err(err) => {
                assert!(r.next_entry().is_err(), "an error sticks");
                return (out, Some(err.to_string()));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (read, read_err) = entries(data, true);
    let (skipped, skip_err) = entries(data, false);
    assert_eq!(read, skipped);
    assert_eq!(read_err, skip_err);
});
