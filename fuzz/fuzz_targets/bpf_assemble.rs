//! `bpf::assemble` on blocks built from fuzz input through the public `Block` API:
//! never panics, and an accepted program
//! * has exactly the instructions that were added (marks take no space),
//! * fits the kernel's limit,
//! * keeps every jump inside its own block or onto the first instruction after it, and
//! * has every jump target inside the program (`i + 1 + jt < len`, same for `jf`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandlet::seccomp::bpf::{
    assemble, Block, Label, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_JSET, BPF_MAXINSNS,
};

const LABELS: [&str; 4] = ["a", "b", "c", "d"];
const OPS: [u16; 3] = [BPF_JEQ, BPF_JGE, BPF_JSET];

/// Reads the fuzz input front to back; zeros once it is used up.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn word(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn label(&mut self) -> Label {
        match self.byte() % 5 {
            0 => Label::Next,
            i => Label::At(LABELS[usize::from(i - 1)]),
        }
    }

    fn name(&mut self) -> &'static str {
        LABELS[usize::from(self.byte() % 4)]
    }
}

/// A block under construction, how many instructions it holds, and how many entries
/// (instructions and marks: appending copies marks too, so they must count towards
/// the cap, or repeated appends grow without bound).
#[derive(Clone, Default)]
struct Built {
    block: Block,
    len: usize,
    entries: usize,
}

/// Enough instructions to exceed the kernel's limit, few enough to stay fast.
const CAP: usize = 2 * BPF_MAXINSNS + 300;

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut blocks: Vec<Built> = Vec::new();
    let mut cur = Built::default();
    let mut total = 0;
    while !input.0.is_empty() && total < CAP {
        let op = input.byte() % 9;
        if op == 8 {
            blocks.push(std::mem::take(&mut cur));
            continue;
        }
        let b = std::mem::take(&mut cur.block);
        let (block, added, entries) = match op {
            0 => (b.load(input.word()), 1, 1),
            1 => (b.and(input.word()), 1, 1),
            2 => (b.ret(input.word()), 1, 1),
            3 => {
                let code = OPS[usize::from(input.byte() % 3)];
                let (k, jt, jf) = (input.word(), input.label(), input.label());
                (b.jump(code, k, jt, jf), 1, 1)
            }
            4 => (b.if_eq(input.word(), input.name()), 1, 1),
            5 => (b.mark(input.name()), 0, 1),
            6 => {
                // Many returns at once, to reach long jumps and long programs.
                let n = usize::from(input.byte());
                ((0..n).fold(b, |b, _| b.ret(0)), n, n)
            }
            _ => match blocks.last() {
                Some(prev) if total + prev.entries <= CAP => {
                    (b.append(prev.block.clone()), prev.len, prev.entries)
                }
                _ => (b, 0, 0),
            },
        };
        cur.block = block;
        cur.len += added;
        cur.entries += entries;
        total += entries;
    }
    blocks.push(cur);

    let plain: Vec<Block> = blocks.iter().map(|b| b.block.clone()).collect();
    let Ok(prog) = assemble(&plain) else {
        return;
    };
    let expected: usize = blocks.iter().map(|b| b.len).sum();
    assert_eq!(prog.len(), expected, "instruction count");
    assert!(prog.len() <= BPF_MAXINSNS, "{} instructions", prog.len());

    let mut start = 0;
    for b in &blocks {
        let end = start + b.len;
        for (i, ins) in prog.iter().enumerate().take(end).skip(start) {
            if ins.code & 0x07 != BPF_JMP {
                continue;
            }
            for off in [ins.jt, ins.jf] {
                let target = i + 1 + usize::from(off);
                assert!(
                    target <= end,
                    "jump at {i} leaves its block [{start}, {end})"
                );
                assert!(
                    target < prog.len(),
                    "jump at {i} to {target} is past the end of a {}-instruction program",
                    prog.len()
                );
            }
        }
        start = end;
    }
});
