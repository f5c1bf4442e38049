//! Classic-BPF assembly for seccomp: two constructors, block-local labels, range checks.
//!
//! A program is a list of [`Block`]s laid end to end. A block is a short run of
//! instructions whose jumps target labels *inside the same block* (or the next
//! instruction), so every offset is small and checked when the program is assembled.
//! Pure code: nothing here makes a syscall.

use crate::sys::SockFilter;
use std::fmt;

// Instruction classes and fields (linux/bpf_common.h).
pub const BPF_LD: u16 = 0x00;
pub const BPF_ALU: u16 = 0x04;
pub const BPF_JMP: u16 = 0x05;
pub const BPF_RET: u16 = 0x06;
pub const BPF_W: u16 = 0x00;
pub const BPF_ABS: u16 = 0x20;
pub const BPF_AND: u16 = 0x50;
pub const BPF_JA: u16 = 0x00;
pub const BPF_JEQ: u16 = 0x10;
pub const BPF_JGE: u16 = 0x30;
pub const BPF_JSET: u16 = 0x40;
pub const BPF_K: u16 = 0x00;

// Return values (linux/seccomp.h).
pub const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

/// The kernel's limit on instructions per filter (`BPF_MAXINSNS`).
pub const BPF_MAXINSNS: usize = 4096;

// Offsets into `struct seccomp_data`.
pub const OFFSET_NR: u32 = 0;
pub const OFFSET_ARCH: u32 = 4;

/// Offset of the low 32 bits of syscall argument `i` in `struct seccomp_data`.
pub const fn arg_low(i: u32) -> u32 {
    let base = 16 + 8 * i;
    if cfg!(target_endian = "little") {
        base
    } else {
        base + 4
    }
}

/// Offset of the high 32 bits of syscall argument `i` in `struct seccomp_data`.
pub const fn arg_high(i: u32) -> u32 {
    let base = 16 + 8 * i;
    if cfg!(target_endian = "little") {
        base + 4
    } else {
        base
    }
}

/// A single instruction with no jump.
pub const fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// A conditional jump with resolved offsets.
pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// A jump target inside a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// The next instruction (offset 0).
    Next,
    /// A named position in the same block.
    At(&'static str),
}

#[derive(Debug, Clone)]
enum Ins {
    Stmt(SockFilter),
    Jump {
        code: u16,
        k: u32,
        jt: Label,
        jf: Label,
    },
    Mark(&'static str),
}

/// Errors found while assembling; any of them is a bug in the program generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsmError {
    UnknownLabel(&'static str),
    DuplicateLabel(&'static str),
    BackwardJump(&'static str),
    JumpTooFar {
        label: &'static str,
        offset: usize,
    },
    TooLong(usize),
    /// A jump lands past the last instruction.
    JumpPastEnd {
        at: usize,
    },
    /// The last instruction is not a return (or the program is empty).
    NoFinalReturn,
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsmError::UnknownLabel(l) => write!(f, "BPF label '{l}' is not defined"),
            AsmError::DuplicateLabel(l) => write!(f, "BPF label '{l}' is defined twice"),
            AsmError::BackwardJump(l) => write!(f, "BPF jump to '{l}' goes backwards"),
            AsmError::JumpTooFar { label, offset } => {
                write!(
                    f,
                    "BPF jump to '{label}' spans {offset} instructions (max 255)"
                )
            }
            AsmError::TooLong(n) => {
                write!(f, "BPF program has {n} instructions (max {BPF_MAXINSNS})")
            }
            AsmError::JumpPastEnd { at } => {
                write!(f, "BPF jump at instruction {at} lands past the end")
            }
            AsmError::NoFinalReturn => f.write_str("BPF program does not end with a return"),
        }
    }
}

impl std::error::Error for AsmError {}

/// A run of instructions with block-local labels.
#[derive(Debug, Clone, Default)]
pub struct Block {
    ins: Vec<Ins>,
}

impl Block {
    pub fn new() -> Self {
        Self::default()
    }

    /// `A = seccomp_data[offset]` (32-bit absolute load).
    pub fn load(mut self, offset: u32) -> Self {
        self.ins
            .push(Ins::Stmt(stmt(BPF_LD | BPF_W | BPF_ABS, offset)));
        self
    }

    /// `A &= k`.
    pub fn and(mut self, k: u32) -> Self {
        self.ins.push(Ins::Stmt(stmt(BPF_ALU | BPF_AND | BPF_K, k)));
        self
    }

    /// `return k`.
    pub fn ret(mut self, k: u32) -> Self {
        self.ins.push(Ins::Stmt(stmt(BPF_RET | BPF_K, k)));
        self
    }

    /// Conditional jump (`BPF_JEQ`, `BPF_JGE`, `BPF_JSET` against constant `k`).
    pub fn jump(mut self, op: u16, k: u32, jt: Label, jf: Label) -> Self {
        self.ins.push(Ins::Jump {
            code: BPF_JMP | op | BPF_K,
            k,
            jt,
            jf,
        });
        self
    }

    /// `if A == k goto target` (else fall through).
    pub fn if_eq(self, k: u32, target: &'static str) -> Self {
        self.jump(BPF_JEQ, k, Label::At(target), Label::Next)
    }

    /// Appends `other`'s instructions; its labels join this block's.
    pub fn append(mut self, other: Block) -> Self {
        self.ins.extend(other.ins);
        self
    }

    /// Instructions already assembled (their jumps relative, inside themselves).
    fn raw(code: Vec<SockFilter>) -> Self {
        Block {
            ins: code.into_iter().map(Ins::Stmt).collect(),
        }
    }

    /// Defines label `name` at the current position.
    pub fn mark(mut self, name: &'static str) -> Self {
        self.ins.push(Ins::Mark(name));
        self
    }

    fn resolve(&self, out: &mut Vec<SockFilter>) -> Result<(), AsmError> {
        let mut marks: Vec<(&'static str, usize)> = Vec::new();
        let mut pos = 0;
        for ins in &self.ins {
            match ins {
                Ins::Mark(name) => {
                    if marks.iter().any(|(n, _)| n == name) {
                        return Err(AsmError::DuplicateLabel(name));
                    }
                    marks.push((name, pos));
                }
                _ => pos += 1,
            }
        }
        let offset = |label: Label, at: usize| -> Result<u8, AsmError> {
            let name = match label {
                Label::Next => return Ok(0),
                Label::At(name) => name,
            };
            let &(_, target) = marks
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or(AsmError::UnknownLabel(name))?;
            if target <= at {
                return Err(AsmError::BackwardJump(name));
            }
            let off = target - at - 1;
            u8::try_from(off).map_err(|_| AsmError::JumpTooFar {
                label: name,
                offset: off,
            })
        };
        let mut at = 0;
        for ins in &self.ins {
            match *ins {
                Ins::Mark(_) => continue,
                Ins::Stmt(s) => out.push(s),
                Ins::Jump { code, k, jt, jf } => {
                    out.push(jump(code, k, offset(jt, at)?, offset(jf, at)?));
                }
            }
            at += 1;
        }
        Ok(())
    }
}

/// A jump table on the syscall number held in A: the body of a route runs when A equals
/// its number (the first route given for a number wins), anything else returns
/// `default`. A binary search on the number (`jge`, with `ja` for long branches) down to
/// leaves of a few numbers decides any number in about log2(routes) + 4 comparisons,
/// where a run of `jeq` tests takes one per route. That matters twice: on every call the filter
/// runs, and when the kernel builds its per-filter action cache, for which it runs the
/// program once for every syscall number. Each body must return on every path.
pub fn dispatch(routes: &[(u32, Block)], default: u32) -> Result<Block, AsmError> {
    // Sorted by number as it is built (a few dozen routes).
    let mut table: Vec<(u32, Vec<SockFilter>)> = Vec::with_capacity(routes.len());
    for (nr, body) in routes {
        let at = table.partition_point(|(n, _)| n < nr);
        if table.get(at).is_none_or(|(n, _)| n != nr) {
            table.insert(at, (*nr, assemble(std::slice::from_ref(body))?));
        }
    }
    let mut out = Vec::new();
    search(&table, default, &mut out)?;
    Ok(Block::raw(out))
}

/// Routes per leaf of the search: tested one after the other.
const LEAF: usize = 4;

fn search(
    table: &[(u32, Vec<SockFilter>)],
    default: u32,
    out: &mut Vec<SockFilter>,
) -> Result<(), AsmError> {
    if table.len() <= LEAF {
        for (nr, body) in table {
            let skip = u8::try_from(body.len()).map_err(|_| AsmError::JumpTooFar {
                label: "syscall body",
                offset: body.len(),
            })?;
            out.push(jump(BPF_JMP | BPF_JEQ | BPF_K, *nr, 0, skip));
            out.extend_from_slice(body);
        }
        out.push(stmt(BPF_RET | BPF_K, default));
        return Ok(());
    }
    let (low, high) = table.split_at(table.len() / 2);
    let mut below = Vec::new();
    search(low, default, &mut below)?;
    // A >= first of the high half: over the low half, with a `ja` when it is too long
    // for a conditional jump.
    match u8::try_from(below.len()) {
        Ok(over) => out.push(jump(BPF_JMP | BPF_JGE | BPF_K, high[0].0, over, 0)),
        Err(_) => {
            out.push(jump(BPF_JMP | BPF_JGE | BPF_K, high[0].0, 0, 1));
            out.push(stmt(BPF_JMP | BPF_JA, below.len() as u32));
        }
    }
    out.append(&mut below);
    search(high, default, out)
}

/// Lays `blocks` end to end and checks the result fits the kernel's limit.
pub fn assemble(blocks: &[Block]) -> Result<Vec<SockFilter>, AsmError> {
    let mut out = Vec::new();
    for b in blocks {
        b.resolve(&mut out)?;
    }
    if out.len() > BPF_MAXINSNS {
        return Err(AsmError::TooLong(out.len()));
    }
    if out.last().is_none_or(|i| i.code & 0x07 != BPF_RET) {
        return Err(AsmError::NoFinalReturn);
    }
    for (at, ins) in out.iter().enumerate() {
        let is_jump = ins.code & 0x07 == BPF_JMP;
        let furthest = if ins.code == BPF_JMP | BPF_JA {
            at + 1 + ins.k as usize
        } else {
            at + 1 + usize::from(ins.jt.max(ins.jf))
        };
        if is_jump && furthest >= out.len() {
            return Err(AsmError::JumpPastEnd { at });
        }
    }
    Ok(out)
}

/// What [`interpret`] saw.
#[cfg(test)]
pub struct Run {
    pub action: u32,
    /// Instructions executed before the first load of an argument (all of them when
    /// none was loaded).
    pub steps_before_args: usize,
}

/// A classic-BPF interpreter for the subset the generator emits, run against a
/// `seccomp_data` of (arch, nr, args).
#[cfg(test)]
pub fn interpret(prog: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> Run {
    let mut data = Vec::new();
    data.extend_from_slice(&nr.to_ne_bytes());
    data.extend_from_slice(&arch.to_ne_bytes());
    data.extend_from_slice(&0u64.to_ne_bytes());
    for a in args {
        data.extend_from_slice(&a.to_ne_bytes());
    }
    let (mut a, mut pc, mut steps, mut args_loaded) = (0u32, 0usize, 0, false);
    loop {
        let ins = prog[pc];
        pc += 1;
        if !args_loaded {
            steps += 1;
        }
        match ins.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                let k = ins.k as usize;
                if k >= 16 && !args_loaded {
                    args_loaded = true;
                    steps -= 1;
                }
                a = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
            }
            c if c == BPF_ALU | BPF_AND | BPF_K => a &= ins.k,
            c if c == BPF_RET | BPF_K => {
                return Run {
                    action: ins.k,
                    steps_before_args: steps,
                }
            }
            c if c == BPF_JMP | BPF_JA => pc += ins.k as usize,
            c if c & 0x07 == BPF_JMP => {
                let taken = match c & 0xf0 {
                    BPF_JEQ => a == ins.k,
                    BPF_JGE => a >= ins.k,
                    BPF_JSET => a & ins.k != 0,
                    op => panic!("unexpected jump op {op:#x}"),
                };
                pc += usize::from(if taken { ins.jt } else { ins.jf });
            }
            c => panic!("unexpected instruction {c:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_routes_each_number_to_its_first_body() {
        let ret = |k| Block::new().ret(k);
        let arg_test = Block::new()
            .load(arg_low(0))
            .if_eq(7, "seven")
            .ret(70)
            .mark("seven")
            .ret(77);
        let routes: Vec<(u32, Block)> = vec![
            (5, ret(50)),
            (1, ret(10)),
            (300, arg_test),
            (7, ret(70)),
            (5, ret(99)),
            (0, ret(1)),
            (299, ret(2990)),
        ];
        let nr = Block::new().load(OFFSET_NR);
        let prog = assemble(&[nr, dispatch(&routes, SECCOMP_RET_ALLOW).unwrap()]).unwrap();
        for nr in 0..400 {
            let expect = match nr {
                0 => 1,
                1 => 10,
                5 => 50,
                7 => 70,
                299 => 2990,
                300 => 70,
                _ => SECCOMP_RET_ALLOW,
            };
            assert_eq!(interpret(&prog, 0, nr, [0; 6]).action, expect, "nr {nr}");
        }
        assert_eq!(interpret(&prog, 0, 300, [7, 0, 0, 0, 0, 0]).action, 77);
        let none = assemble(&[Block::new().load(OFFSET_NR), dispatch(&[], 3).unwrap()]).unwrap();
        assert_eq!(interpret(&none, 0, 42, [0; 6]).action, 3);
    }

    #[test]
    fn dispatch_reaches_routes_far_apart() {
        // 600 routes make the low half far longer than a conditional jump reaches. Steps:
        // the load, jge (+ ja) per level (8 levels to leaves of 4 or fewer), up to four
        // jeq and the return.
        let routes: Vec<(u32, Block)> = (0..600)
            .map(|nr| (nr * 2, Block::new().ret(nr + 1)))
            .collect();
        let prog =
            assemble(&[Block::new().load(OFFSET_NR), dispatch(&routes, 0).unwrap()]).unwrap();
        for nr in 0..1300 {
            let expect = if nr % 2 == 0 && nr < 1200 {
                nr / 2 + 1
            } else {
                0
            };
            let run = interpret(&prog, 0, nr, [0; 6]);
            assert_eq!(run.action, expect, "nr {nr}");
            assert!(
                run.steps_before_args <= 1 + 2 * 8 + 4 + 1,
                "{} steps",
                run.steps_before_args
            );
        }
    }

    #[test]
    fn resolves_forward_labels() {
        let b = Block::new()
            .load(OFFSET_NR)
            .if_eq(1, "deny")
            .if_eq(2, "deny")
            .ret(SECCOMP_RET_ALLOW)
            .mark("deny")
            .ret(SECCOMP_RET_ERRNO | 1);
        let prog = assemble(&[b]).unwrap();
        assert_eq!(
            prog,
            vec![
                stmt(BPF_LD | BPF_W | BPF_ABS, 0),
                jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 2, 0),
                jump(BPF_JMP | BPF_JEQ | BPF_K, 2, 1, 0),
                stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
            ]
        );
    }

    #[test]
    fn rejects_bad_labels() {
        let unknown = Block::new().if_eq(1, "nowhere").ret(0);
        assert_eq!(assemble(&[unknown]), Err(AsmError::UnknownLabel("nowhere")));
        let twice = Block::new().mark("a").ret(0).mark("a").ret(0);
        assert_eq!(assemble(&[twice]), Err(AsmError::DuplicateLabel("a")));
        let back = Block::new().mark("a").ret(0).if_eq(1, "a").ret(0);
        assert_eq!(assemble(&[back]), Err(AsmError::BackwardJump("a")));
    }

    #[test]
    fn rejects_long_jumps_and_programs() {
        let mut far = Block::new().if_eq(1, "end");
        for _ in 0..256 {
            far = far.ret(0);
        }
        let far = far.mark("end").ret(0);
        assert_eq!(
            assemble(&[far]),
            Err(AsmError::JumpTooFar {
                label: "end",
                offset: 256
            })
        );
        let blocks: Vec<Block> = (0..=BPF_MAXINSNS).map(|_| Block::new().ret(0)).collect();
        assert_eq!(assemble(&blocks), Err(AsmError::TooLong(BPF_MAXINSNS + 1)));
    }

    #[test]
    fn rejects_falling_off_the_end() {
        let no_ret = Block::new().load(0);
        assert_eq!(assemble(&[no_ret]), Err(AsmError::NoFinalReturn));
        assert_eq!(assemble(&[]), Err(AsmError::NoFinalReturn));
        let past = Block::new().if_eq(1, "end").ret(0).mark("end");
        assert_eq!(assemble(&[past]), Err(AsmError::JumpPastEnd { at: 0 }));
        let past = Block::new()
            .jump(BPF_JEQ, 0, Label::Next, Label::At("end"))
            .mark("end");
        let past = past.ret(0);
        assert!(assemble(&[past]).is_ok());
        let jump_last = Block::new()
            .ret(0)
            .jump(BPF_JEQ, 0, Label::Next, Label::Next);
        assert_eq!(assemble(&[jump_last]), Err(AsmError::NoFinalReturn));
    }
}
