//! `seccomp::program` on an arbitrary deny list (up to 3000 syscall numbers): never
//! panics, and either fits the kernel's limit or fails with `TooLong`. An accepted
//! program ends in a return, keeps every jump inside the program, and - run through a
//! small classic-BPF interpreter - gives each syscall the verdict the design promises:
//! foreign arch and (x86_64) x32 numbers are killed, clone3 gets ENOSYS, listed numbers
//! get EPERM, other numbers without an argument filter are allowed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::policy::traps::Traps;
use sandlet::seccomp::bpf::{
    AsmError, BPF_ABS, BPF_ALU, BPF_AND, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_JSET, BPF_K, BPF_LD,
    BPF_MAXINSNS, BPF_RET, BPF_W, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS,
};
use sandlet::seccomp::{names, program, AUDIT_ARCH};
use sandlet::sys::SockFilter;


const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const MAX_DENY: usize = 3000;

/// Syscalls with an argument filter: their verdict depends on the arguments.
const ARG_FILTERED: [&str; 5] = ["clone", "ioctl", "socket", "prctl", "personality"];

fn nr(name: &str) -> u32 {
    names::number(name).unwrap_or_else(|| panic!("{name} has no number"))
}

/// Runs `prog` on a `struct seccomp_data` with this arch, number and zero arguments.
fn run(prog: &[SockFilter], arch: u32, nr: u32) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_ne_bytes());
    data[4..8].copy_from_slice(&arch.to_ne_bytes());
    let mut a: u32 = 0;
    let mut pc = 0;
    loop {
        let ins = prog
            .get(pc)
            .unwrap_or_else(|| panic!("ran off the end at {pc}"));
        pc += 1;
        match ins.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                let k = ins.k as usize;
                assert!(
                    k.is_multiple_of(4) && k + 4 <= data.len(),
                    "load at offset {k}"
                );
                a = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
            }
            c if c == BPF_ALU | BPF_AND | BPF_K => a &= ins.k,
            c if c == BPF_RET | BPF_K => return ins.k,
            c if c == BPF_JMP | BPF_JA => pc += ins.k as usize,
            c if c & 0x07 == BPF_JMP => {
                let taken = match c {
                    c if c == BPF_JMP | BPF_JEQ | BPF_K => a == ins.k,
                    c if c == BPF_JMP | BPF_JGE | BPF_K => a >= ins.k,
                    c if c == BPF_JMP | BPF_JSET | BPF_K => a & ins.k != 0,
                    c => panic!("unexpected jump {c:#x}"),
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
            c => panic!("unexpected instruction {c:#x}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Two bytes of length, then numbers, repeated up to that length: long lists (and
    // so programs over the kernel's limit) are reachable from short inputs.
    let (head, rest) = data.split_at(data.len().min(2));
    let mut len = [0u8; 2];
    len[..head.len()].copy_from_slice(head);
    let numbers: Vec<u32> = rest
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let len = usize::from(u16::from_le_bytes(len))
        .max(numbers.len())
        .min(MAX_DENY);
    let deny: Vec<u32> = numbers.iter().copied().cycle().take(len).collect();
    let prog = match program(&deny, Traps::default()) {
        Ok(prog) => prog,
        Err(AsmError::TooLong(n)) => {
            assert!(n > BPF_MAXINSNS, "TooLong({n}) for a program that fits");
            return;
        }
        Err(e) => panic!("{} numbers: unexpected error {e:?}", deny.len()),
    };
    assert!(prog.len() <= BPF_MAXINSNS);
    assert_eq!(
        prog.last().map(|i| i.code),
        Some(BPF_RET | BPF_K),
        "no final return"
    );
    for (i, ins) in prog.iter().enumerate() {
        if ins.code & 0x07 == BPF_JMP {
            let far = if ins.code == BPF_JMP | BPF_JA {
                i + 1 + ins.k as usize
            } else {
                i + 1 + usize::from(ins.jt.max(ins.jf))
            };
            assert!(far < prog.len(), "jump at {i} to {far} leaves the program");
        }
    }

    let clone3 = nr("clone3");
    let filtered: Vec<u32> = ARG_FILTERED.iter().copied().map(nr).collect();
    let eperm = SECCOMP_RET_ERRNO | libc_errno::EPERM;
    let enosys = SECCOMP_RET_ERRNO | libc_errno::ENOSYS;
    let mut probes: Vec<u32> = deny
        .iter()
        .take(8)
        .flat_map(|&n| [n, n ^ 1, n.wrapping_add(1)])
        .collect();
    probes.extend([0, 1, clone3, u32::MAX, X32_SYSCALL_BIT]);
    for n in probes {
        let got = run(&prog, AUDIT_ARCH, n);
        let want = if cfg!(target_arch = "x86_64") && n & X32_SYSCALL_BIT != 0 {
            SECCOMP_RET_KILL_PROCESS
        } else if n == clone3 {
            enosys
        } else if deny.contains(&n) {
            eperm
        } else if filtered.contains(&n) {
            continue;
        } else {
            SECCOMP_RET_ALLOW
        };
        assert_eq!(got, want, "syscall {n} got {got:#x}, expected {want:#x}");
        assert_eq!(
            run(&prog, AUDIT_ARCH ^ 0x1, n),
            SECCOMP_RET_KILL_PROCESS,
            "syscall {n} of a foreign arch was not killed"
        );
    }
});

/// The two errno values the filter uses (the same on every Linux architecture).
mod libc_errno {
    pub const EPERM: u32 = 1;
    pub const ENOSYS: u32 = 38;
}
