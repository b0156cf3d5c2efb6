// rulecast allocates many small strings (query text, template values); mimalloc is markedly
// faster than the system allocator at that: a build of 5,000 detections to 4 targets took 9.1
// to 10.7 s of user CPU with the system allocator against 6.5 to 7.5 s with mimalloc.
//
// Built without transparent huge pages (the `no_thp` feature, Cargo.toml): by default mimalloc
// advises the kernel to back its arenas with 2 MB pages, and where THP is `madvise` (common on
// servers) each first touch of one makes the kernel zero 2 MB. That was 35% of a build's samples
// and 4 to 18 s of system time for the same build; without it 1.6 to 2.1 s. A scan of 1,000,000
// events keeps its speed and peaks at 52 to 57 MB instead of 80 to 84 MB. Figures and commands:
// docs/benchmarks.md. (mimalloc's eager-commit option gained nothing measurable on top, and
// setting it in code needs `unsafe`, which this crate forbids.)
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rulecast::cli::main()
}
