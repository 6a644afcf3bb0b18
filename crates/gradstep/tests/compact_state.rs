//! Adam with bfloat16 moments ([`AdamBf16`]) against Adam with `f32` moments: how far the
//! compact state lets a run drift.

use gradstep::{Adam, AdamBf16, AdamConfig, Optimizer};
use proptest::prelude::*;

/// Runs `steps` of both optimizers on f(x) = ½ Σ aᵢ xᵢ² from `x0`; returns both end points.
fn both(a: &[f32], x0: &[f32], config: AdamConfig, steps: usize) -> (Vec<f32>, Vec<f32>) {
    let (full, compact) = (Adam::from_config(config).unwrap(), AdamBf16::from_config(config).unwrap());
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
    /// that is within 6 % of the 1,000·lr that Adam can move a coordinate in that time.
    ///
    /// Why not closer: the stored second moment is an EMA with memory 1/(1-β₂) = 1,000 steps,
    /// so its rounding errors (unbiased, about 2⁻⁸ of v each) add up like a random walk over
    /// that memory to a few percent of v, and the step size, m/√v, inherits about half of that
    /// for hundreds of steps at a time. Gradient noise in real training is far larger.
    #[test]
    fn bf16_state_tracks_f32_state_over_1000_steps(
        a in prop::collection::vec(0.1_f32..10.0, 1..48),
        seed in 0_u32..1000,
        lr in 1e-3_f64..5e-2,
        decoupled in any::<bool>(),
    ) {
        let x0: Vec<f32> = (0..a.len()).map(|i| ((i as f32 + 1.0) * (seed as f32 + 0.5)).sin() * 3.0).collect();
        let config = AdamConfig { lr, weight_decay: 0.01, decoupled_weight_decay: decoupled, ..Default::default() };
        let (x, y) = both(&a, &x0, config, 1000);
        let worst = x.iter().zip(&y).map(|(x, y)| (x - y).abs()).fold(0.0_f32, f32::max);
        prop_assert!(f64::from(worst) <= 60.0 * lr, "drift {worst} with lr {lr}");
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
