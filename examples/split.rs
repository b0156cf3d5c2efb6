#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Instant;
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let t = Instant::now();
    let c = rulecast::catalogue::Catalogue::load(std::path::Path::new(&dir)).unwrap();
    println!("load {:?}", t.elapsed());
    let templates = rulecast::render::Templates::load(None).unwrap();
    let stamps = |d: &rulecast::catalogue::Detection| rulecast::targets::Stamp { version: d.meta.version, modified: d.meta.date.clone() };
    for target in rulecast::targets::all() {
        let ctx = rulecast::targets::RenderContext { catalogue: &c, templates: &templates, stamps: &stamps, pack_version: "1.0.0" };
        let t = Instant::now();
        let a = target.render(&ctx).unwrap();
        let r = t.elapsed();
        let t = Instant::now();
        let d = target.check(&a.files);
        println!("{} render {:?} check {:?} ({} findings)", target.name(), r, t.elapsed(), d.error_count());
    }
}
