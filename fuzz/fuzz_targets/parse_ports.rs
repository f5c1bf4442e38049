//! `parse_ports`: never panics; an accepted set is sorted, merged and non-empty, holds
//! every port the input named, and its `Display` form parses back to the same set.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::policy::parse::{parse_ports, PortSet};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(set) = parse_ports(input) else {
        return;
    };
    match &set {
        PortSet::None => panic!("{input:?} parsed to the empty set"),
        PortSet::Any => assert_eq!(input, "*"),
        PortSet::Ranges(ranges) => {
            assert!(!ranges.is_empty(), "{input:?}: no ranges");
            for r in ranges {
                assert!(r.start() <= r.end(), "{input:?}: backwards range {r:?}");
            }
            for w in ranges.windows(2) {
                // Sorted, disjoint and not adjacent (adjacent ranges must be merged).
                assert!(
                    u32::from(*w[0].end()) + 1 < u32::from(*w[1].start()),
                    "{input:?}: ranges {:?} and {:?} not merged",
                    w[0],
                    w[1]
                );
            }
            for item in input.split(',') {
                let (lo, hi) = item.split_once('-').unwrap_or((item, item));
                let (lo, hi): (u16, u16) = (lo.parse().unwrap(), hi.parse().unwrap());
                assert!(
                    set.contains(lo) && set.contains(hi),
                    "{input:?}: lost {item}"
                );
            }
        }
    }
    let shown = set.to_string();
    assert_eq!(
        parse_ports(&shown).as_ref(),
        Ok(&set),
        "{input:?} displays as {shown:?}, which does not parse back"
    );
});
