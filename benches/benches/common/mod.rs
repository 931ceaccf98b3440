//! Criterion settings shared by every bench: short enough that the whole suite runs in a
//! few minutes on two cores.

use std::time::Duration;

use criterion::Criterion;

pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(2))
        .sample_size(25)
        .noise_threshold(0.03)
}
