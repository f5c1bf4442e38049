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
        let furthest = at + 1 + usize::from(ins.jt.max(ins.jf));
        if is_jump && furthest >= out.len() {
            return Err(AsmError::JumpPastEnd { at });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
