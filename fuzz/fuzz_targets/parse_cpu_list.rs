//! `parse_cpu_list`: never panics; an accepted list is non-empty, strictly increasing,
//! at most `CPU_MAX`, holds exactly the CPUs the input named (every number and every
//! CPU of every range), and formatting it with `policy::cpu_list` and parsing again
//! gives the same list.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use sandlet::policy::cpu_list;
use sandlet::policy::parse::{parse_cpu_list, CPU_MAX};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cpus) = parse_cpu_list(input) else {
        return;
    };
    assert!(!cpus.is_empty(), "{input:?} parsed to an empty list");
    assert!(
        cpus.windows(2).all(|w| w[0] < w[1]),
        "{input:?}: {cpus:?} not sorted and unique"
    );
    assert!(
        cpus.iter().all(|&c| c <= CPU_MAX),
        "{input:?}: {cpus:?} has a CPU above {CPU_MAX}"
    );

    // The CPUs the input names, worked out independently.
    let mut named = BTreeSet::new();
    for item in input.split(',') {
        let (lo, hi) = item.split_once('-').unwrap_or((item, item));
        let num = |t: &str| -> usize {
            assert!(
                !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()),
                "{input:?} accepted, but {t:?} in {item:?} is not a number"
            );
            t.parse()
                .unwrap_or_else(|_| panic!("{input:?} accepted, but {t:?} is out of range"))
        };
        let (lo, hi) = (num(lo), num(hi));
        assert!(lo <= hi, "{input:?} accepted with backwards range {item:?}");
        named.extend(lo..=hi.min(CPU_MAX + 1));
    }
    assert!(
        cpus.iter().copied().eq(named.iter().copied()),
        "{input:?} parsed to {cpus:?}, but names {named:?}"
    );

    let shown = cpu_list(&cpus);
    assert_eq!(
        parse_cpu_list(&shown).as_ref(),
        Ok(&cpus),
        "{input:?} -> {cpus:?} formats as {shown:?}, which does not parse back"
    );
});
