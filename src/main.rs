// rulecast allocates many small strings (query text, template values); mimalloc is markedly
// faster than the system allocator at that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rulecast::cli::main()
}
