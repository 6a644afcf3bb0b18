//! Adam with bfloat16 moments ([`AdamBf16`]) and with block-wise 8-bit moments ([`Adam8bit`])
//! against Adam with `f32` moments: how far the compact state lets a run drift.

use gradstep::{Adam, Adam8bit, AdamBf16, AdamConfig, Optimizer};
use proptest::prelude::*;

/// Runs `steps` of both optimizers on f(x) = ½ Σ aᵢ xᵢ² from `x0`; returns both end points.
fn both(a: &[f32], x0: &[f32], config: AdamConfig, steps: usize) -> (Vec<f32>, Vec<f32>) {
    both_with(&AdamBf16::from_config(config).unwrap(), a, x0, config, steps)
}

/// [`both`] with any compact-state optimizer.
fn both_with<O: Optimizer<f32>>(
    compact: &O,
    a: &[f32],
    x0: &[f32],
    config: AdamConfig,
    steps: usize,
) -> (Vec<f32>, Vec<f32>) {
    let full = Adam::from_config(config).unwrap();
    let (mut x, mut y) = (x0.to_vec(), x0.to_vec());
    let (mut sx, mut sy) = (Optimizer::<f32>::init(&full, x.len()), compact.init(y.len()));
    let mut g = vec![0.0; x.len()];
    for _ in 0..steps {
        g.iter_mut().zip(a).zip(&x).for_each(|((g, a), x)| *g = a * x);
        full.step(&mut x, &g, &mut sx).unwrap();
        g.iter_mut().zip(a).zip(&y).for_each(|((g, a), y)| *g = a * y);
        compact.step(&mut y, &g, &mut sy).unwrap();
    }
    (x, y)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Over 1,000 steps every coordinate stays within 60 learning rates of the `f32`-state run,
    /// that is within 6 % of the 1,000·lr that Adam can move a coordinate in that time, with
    /// bfloat16 moments and with 8-bit ones.
    ///
    /// Why not closer: the stored second moment is an EMA with memory 1/(1-β₂) = 1,000 steps,
    /// so its rounding errors (unbiased, about 2⁻⁸ of v each in bfloat16) add up like a random
    /// walk over that memory to a few percent of v, and the step size, m/√v, inherits about half
    /// of that for hundreds of steps at a time. Gradient noise in real training is far larger.
    /// The 8-bit codes keep 3 and 4 mantissa bits instead of 7, so a stored moment can be off by
    /// 12 % or 6 % of itself at one step; but their rounding noise is a Weyl sequence along the
    /// steps, whose errors cancel over a few steps instead of adding up like a random walk, and
    /// the drift stays as small (the largest seen in some 500 cases: 22 learning rates). The
    /// coordinates, from 1 to 47, share one 8-bit block and its scale.
    #[test]
    fn compact_state_tracks_f32_state_over_1000_steps(
        a in prop::collection::vec(0.1_f32..10.0, 1..48),
        seed in 0_u32..1000,
        lr in 1e-3_f64..5e-2,
        decoupled in any::<bool>(),
    ) {
        let x0: Vec<f32> = (0..a.len()).map(|i| ((i as f32 + 1.0) * (seed as f32 + 0.5)).sin() * 3.0).collect();
        let config = AdamConfig { lr, weight_decay: 0.01, decoupled_weight_decay: decoupled, ..Default::default() };
        for (name, (x, y)) in [
            ("bf16", both(&a, &x0, config, 1000)),
            ("8-bit", both_with(&Adam8bit::from_config(config).unwrap(), &a, &x0, config, 1000)),
        ] {
            prop_assert!(worst_drift(&x, &y) <= 60.0 * lr, "{name} drift {} with lr {lr}", worst_drift(&x, &y));
        }
    }
}

/// The largest difference between two end points, coordinate by coordinate.
fn worst_drift(x: &[f32], y: &[f32]) -> f64 {
    f64::from(x.iter().zip(y).map(|(x, y)| (x - y).abs()).fold(0.0_f32, f32::max))
}

/// The drift bound on two full 8-bit blocks, which take the AVX-512 loops where the CPU has them
/// (the property test's coordinates all fall in a block's short tail, which takes the portable
/// loops).
#[test]
fn eight_bit_state_tracks_f32_state_on_full_blocks() {
    let n = 2 * Adam8bit::BLOCK;
    let a: Vec<f32> = (0..n).map(|i| 0.1 + (i % 97) as f32 * 0.1).collect();
    let x0: Vec<f32> = (0..n).map(|i| ((i as f32 + 1.0) * 0.7).sin() * 3.0).collect();
    for lr in [1e-3, 1e-2] {
        let config = AdamConfig { lr, weight_decay: 0.01, ..Default::default() };
        let (x, y) = both_with(&Adam8bit::from_config(config).unwrap(), &a, &x0, config, 1000);
        assert!(worst_drift(&x, &y) <= 60.0 * lr, "drift {} with lr {lr}", worst_drift(&x, &y));
    }
}

/// Far from the minimum (a long, straight descent, where Adam's steps are all about `lr`), each
/// coordinate of the compact run covers the `f32` run's distance to within 6 %, and on average
/// over 64 coordinates to within 1 %: the rounding is unbiased, so the compact state does not
/// make the descent systematically slower or faster, it only makes each coordinate's step size
/// wander by a few percent (see above).
#[test]
fn long_descent_agrees_closely() {
    let a = vec![1e-4_f32; 64];
    let x0 = vec![100.0_f32; 64];
    let config = AdamConfig { lr: 1e-2, ..Default::default() };
    let (x, y) = both(&a, &x0, config, 1000);
    let mut mean = 0.0;
    for (x, y) in x.iter().zip(&y) {
        let (dx, dy) = (100.0 - x, 100.0 - y);
        assert!(dx > 9.0, "the f32 run descends about lr per step: {dx}");
        assert!((dx - dy).abs() < 0.06 * dx, "distances {dx} vs {dy}");
        mean += (dy / dx - 1.0) / 64.0;
    }
    assert!(mean.abs() < 0.01, "mean relative difference {mean}");
}

/// The long descent with 8-bit moments, on curvatures that differ from coordinate to coordinate
/// (so that the moments of one block fall between codes): each coordinate within 5 % of the
/// `f32` run's distance (the largest difference is 1.9 %), the mean within 1 % (it is -0.3 %).
#[test]
fn long_descent_agrees_with_8_bit_state() {
    let a: Vec<f32> = (0..64).map(|i| 1e-4 * (0.5 + i as f32 / 64.0)).collect();
    let x0 = vec![100.0_f32; 64];
    let config = AdamConfig { lr: 1e-2, ..Default::default() };
    let (x, y) = both_with(&Adam8bit::from_config(config).unwrap(), &a, &x0, config, 1000);
    let mut mean = 0.0;
    let mut worst = 0.0_f32;
    for (x, y) in x.iter().zip(&y) {
        let (dx, dy) = (100.0 - x, 100.0 - y);
        worst = worst.max((dx - dy).abs() / dx);
        mean += (dy / dx - 1.0) / 64.0;
    }
    assert!(worst < 0.05, "worst relative difference {worst}");
    assert!(mean.abs() < 0.01, "mean relative difference {mean}");
}
