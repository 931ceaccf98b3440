//! Runs N Teams → gateway media negotiations (offer, answer, plan, release) for instruction
//! counting: `valgrind --tool=callgrind target/release/examples/offer_answer_loop N`, and
//! the difference between two N divided by their difference is the cost of one call.

#[path = "support/call.rs"]
mod common;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let cfg = common::config();
    let mut pool = common::pool();
    let mut seed = 0u8;
    let mut total = 0usize;
    for _ in 0..n {
        total += common::one_call(&cfg, &mut pool, &mut seed);
    }
    assert_eq!(pool.in_use(), 0);
    std::hint::black_box(total);
}
