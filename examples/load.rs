#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    for _ in 0..3 { let _ = rulecast::catalogue::Catalogue::load(std::path::Path::new(&dir)).unwrap(); }
}
