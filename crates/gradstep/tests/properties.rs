//! Property tests: checkpoint/resume is bit for bit, threads change nothing, f32 follows f64,
//! and identities between the algorithms hold.

use gradstep::classical::{Backtracking, LineSearch, Objective, StrongWolfe};
use gradstep::schedule::{
    Cosine, CosineWarmRestarts, MultiStep, OneCycle, ReduceOnPlateau, Schedule, Scheduled,
};
use gradstep::*;
use proptest::prelude::*;

mod common;
use common::{resume_is_exact, threads_match_serial};

fn problem() -> impl Strategy<Value = (Vec<f64>, Vec<Vec<f64>>, usize)> {
    (1usize..6, 2usize..12).prop_flat_map(|(n, steps)| {
        (
            prop::collection::vec(-3.0..3.0f64, n),
            prop::collection::vec(prop::collection::vec(-1.0..1.0f64, n), steps),
            0..=steps,
        )
    })
}

/// One configuration of every optimizer, each with its options on (momentum, Nesterov,
/// dampening, decay, centering, AMSGrad, ...), plus a scheduled and a guarded one: the cases
/// of the properties that must hold for all of them. `for_each_optimizer!(|opt| body)` runs
/// `body` with `opt` bound to each in turn (they are of different types, hence a macro).
macro_rules! for_each_optimizer {
    (|$opt:ident| $body:expr) => {{
        for_each_optimizer!(@each $opt, $body, [
            Sgd::from_config(SgdConfig { lr: 0.1, momentum: 0.9, nesterov: true, ..Default::default() }),
            Sgd::from_config(SgdConfig {
                lr: 0.1,
                momentum: 0.5,
                dampening: 0.2,
                weight_decay: 0.1,
                ..Default::default()
            }),
            Adagrad::from_config(AdagradConfig {
                lr: 0.1,
                lr_decay: 0.01,
                initial_accumulator_value: 0.1,
                ..Default::default()
            }),
            RmsProp::from_config(RmsPropConfig {
                lr: 0.01,
                centered: true,
                momentum: 0.9,
                ..Default::default()
            }),
            Adadelta::new(1.0),
            Adam::from_config(AdamConfig { lr: 0.1, amsgrad: true, weight_decay: 0.1, ..Default::default() }),
            AdamW::new(0.1),
            NAdam::from_config(NAdamConfig {
                lr: 0.1,
                decoupled_weight_decay: true,
                weight_decay: 0.1,
                ..Default::default()
            }),
            RAdam::new(0.1),
            Adamax::new(0.1),
            Yogi::new(0.1),
            Lion::new(0.1),
            Adam::new(1.0).map(|adam| {
                Scheduled::new(adam, Cosine::new(0.1, 0.001, 8).unwrap().with_warmup(3, 0.0).unwrap())
            }),
            Adam::new(0.1).map(SkipNonFinite::new),
        ])
    }};
    (@each $opt:ident, $body:expr, [$($built:expr),+ $(,)?]) => {{
        $({
            let $opt = $built.unwrap();
            $body;
        })+
    }};
}

/// [`resume_is_exact`] for every optimizer, on `x0` rounded to `T`.
fn resume_for_all<T: Float>(x0: &[f64], noise: &[Vec<f64>], cut: usize) -> Result<(), TestCaseError> {
    let x0: Vec<T> = x0.iter().map(|&v| T::of(v)).collect();
    let shape = Shape::vector(x0.len());
    for_each_optimizer!(|opt| resume_is_exact(&opt, &shape, &x0, noise, cut)?);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn resuming_from_a_checkpoint_at_any_step_is_bit_for_bit((x0, noise, cut) in problem()) {
        resume_for_all::<f64>(&x0, &noise, cut)?;
        resume_for_all::<f32>(&x0, &noise, cut)?;
    }

    #[test]
    fn f32_follows_f64_closely((x0, noise, _cut) in problem()) {
        // Adam on f32 and on f64 with the same gradients: the iterates stay within a few
        // f32 ulps of the step size (Adam's steps are O(lr) whatever the gradient).
        let opt = Adam::new(0.01).unwrap();
        let mut x64 = x0.clone();
        let mut x32: Vec<f32> = x0.iter().map(|&v| v as f32).collect();
        let (mut s64, mut s32) = (Optimizer::<f64>::init(&opt, x0.len()), Optimizer::<f32>::init(&opt, x0.len()));
        for n in &noise {
            let g: Vec<f64> = n.iter().map(|&v| v + 0.5).collect();
            let g32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
            opt.step(&mut x64, &g, &mut s64).unwrap();
            opt.step(&mut x32, &g32, &mut s32).unwrap();
        }
        for (a, b) in x64.iter().zip(&x32) {
            prop_assert!((a - f64::from(*b)).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn adam_with_b1_zero_is_bias_corrected_rms((x0, noise, _cut) in problem()) {
        // optax's identity: scale_by_adam(b1=0) == bias-corrected scale_by_rms.
        let (lr, b2, eps) = (0.05, 0.99, 1e-8);
        let opt = Adam::from_config(AdamConfig { lr, betas: (0.0, b2), eps, ..Default::default() }).unwrap();
        let mut x = x0.clone();
        let mut s = opt.init(x.len());
        let mut y = x0.clone();
        let mut v = vec![0.0; x.len()];
        for (t, n) in noise.iter().enumerate() {
            opt.step(&mut x, n, &mut s).unwrap();
            let bc2 = 1.0 - b2.powf((t + 1) as f64);
            for ((y, v), g) in y.iter_mut().zip(v.iter_mut()).zip(n) {
                *v = b2 * *v + (1.0 - b2) * g * g;
                *y -= lr * g / ((*v / bc2).sqrt() + eps);
            }
        }
        for (a, b) in x.iter().zip(&y) {
            prop_assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn amsgrad_is_adam_while_the_gradient_grows(g0 in 0.1..2.0f64, growth in prop::collection::vec(1.0..1.5f64, 1..15)) {
        // With |g| non-decreasing, v never falls, its running maximum is v itself.
        let base = AdamConfig { lr: 0.1, ..Default::default() };
        let a = Adam::from_config(base).unwrap();
        let m = Adam::from_config(AdamConfig { amsgrad: true, ..base }).unwrap();
        let (mut x, mut y) = ([1.0_f64], [1.0_f64]);
        let (mut sa, mut sm) = (a.init(1), m.init(1));
        let mut g = g0;
        for k in growth {
            g *= k;
            a.step(&mut x, &[g], &mut sa).unwrap();
            m.step(&mut y, &[g], &mut sm).unwrap();
        }
        prop_assert_eq!(x, y);
    }

    #[test]
    fn lion_moves_every_coordinate_by_exactly_lr(g in prop::collection::vec(prop_oneof![-5.0..-1e-3f64, 1e-3..5.0f64], 1..8)) {
        let opt = Lion::from_config(LionConfig { lr: 0.125, weight_decay: 0.0, ..Default::default() }).unwrap();
        let mut x = vec![1.0_f64; g.len()];
        let mut s = opt.init(g.len());
        opt.step(&mut x, &g, &mut s).unwrap();
        for (xi, gi) in x.iter().zip(&g) {
            prop_assert_eq!(*xi, 1.0 - 0.125 * gi.signum());
        }
    }

    #[test]
    fn wrong_lengths_are_errors_never_panics(n in 0usize..5, m in 0usize..5, k in 0usize..5) {
        let opt = Adam::from_config(AdamConfig { amsgrad: true, ..Default::default() }).unwrap();
        let mut s = Optimizer::<f64>::init(&opt, k);
        let mut x = vec![0.0; n];
        let r = opt.step(&mut x, &vec![1.0; m], &mut s);
        prop_assert_eq!(r.is_ok(), n == m && m == k);
        if r.is_err() {
            prop_assert!(x.iter().all(|&v| v == 0.0));
        }
    }
}

fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
    let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
    g[0] = -2.0 * a - 400.0 * x[0] * b;
    g[1] = 200.0 * b;
    a * a + 100.0 * b * b
}

proptest! {
    #[test]
    fn line_search_steps_satisfy_their_conditions(
        x0 in -2.0..2.0f64, x1 in -1.0..3.0f64, alpha0 in 1e-4..10.0f64, c2 in 0.1..0.9f64,
    ) {
        let x = [x0, x1];
        let mut g = [0.0; 2];
        let fx = rosenbrock(&x, &mut g);
        prop_assume!(g[0].abs() + g[1].abs() > 1e-8);
        let d = [-g[0], -g[1]];
        let slope0 = g[0] * d[0] + g[1] * d[1];
        let (mut xn, mut gn) = ([0.0; 2], [0.0; 2]);
        let r = StrongWolfe::new(1e-4, c2, 60).unwrap().search(&rosenbrock, &x, fx, &g, &d, alpha0, &mut xn, &mut gn).unwrap();
        prop_assert!(r.value <= fx + 1e-4 * r.alpha * slope0);
        prop_assert!((gn[0] * d[0] + gn[1] * d[1]).abs() <= -c2 * slope0 * (1.0 + 1e-12));
        // The buffers hold the accepted point and its gradient.
        let mut check = [0.0; 2];
        prop_assert_eq!(rosenbrock.value_grad(&xn, &mut check), r.value);
        prop_assert_eq!(check, gn);
        let r = Backtracking::default().search(&rosenbrock, &x, fx, &g, &d, alpha0, &mut xn, &mut gn).unwrap();
        prop_assert!(r.value <= fx + 1e-4 * r.alpha * slope0);
    }

    #[test]
    fn schedules_stay_within_their_bounds(lr in 1e-4..1.0f64, steps in 1u64..200, t in 0u64..400) {
        let cos = Cosine::new(lr, lr / 10.0, steps).unwrap();
        // At t = 0, PyTorch's form min + (max - min)·(1 + cos 0)/2 can round one ulp above max.
        prop_assert!(cos.lr(t) <= lr * (1.0 + 1e-12) && cos.lr(t) >= lr / 10.0 * (1.0 - 1e-12));
        prop_assert!(cos.lr(t + 1) <= cos.lr(t));
        let warm = cos.with_warmup(steps, 0.0).unwrap();
        prop_assert!(warm.lr(t) <= lr * (1.0 + 1e-12));
        let restarts = CosineWarmRestarts::new(lr, 0.0, steps, 2).unwrap();
        prop_assert!((0.0..=lr).contains(&restarts.lr(t)));
        let ms = MultiStep::new(lr, vec![steps, steps + 10, steps + 50], 0.5).unwrap();
        prop_assert!(ms.lr(t + 1) <= ms.lr(t));
        if steps >= 10 {
            let oc = OneCycle::new(lr, steps).unwrap();
            prop_assert!(oc.lr(t) <= lr * (1.0 + 1e-12) && oc.lr(t) >= lr / 25.0 / 1e4 * (1.0 - 1e-12));
        }
    }
}

#[test]
fn threads_give_the_serial_result_bit_for_bit() {
    let n = 300_001;
    let x0: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) / 7.0).collect();
    let g: Vec<f32> = (0..n).map(|i| ((i % 89) as f32 - 44.0) / 3.0).collect();
    for_each_optimizer!(|opt| threads_match_serial(opt, &x0, &g));
}

/// optax's alias test: every optimizer, with settings of its own, reaches the minimum of a
/// parabola, in f32 and in f64.
#[test]
fn every_optimizer_minimises_a_parabola() {
    fn run<T: Float, O: Optimizer<T>>(name: &str, opt: &O, steps: usize) {
        // f(x) = ½·Σ cᵢ(xᵢ - 1)², cᵢ = 1, 2, 3.
        let c = [1.0, 2.0, 3.0];
        let mut x = vec![T::of(-2.0), T::of(0.0), T::of(3.0)];
        let mut s = opt.init(3);
        for _ in 0..steps {
            let g: Vec<T> = x.iter().zip(&c).map(|(&x, &c)| (x - T::one()) * T::of(c)).collect();
            opt.step(&mut x, &g, &mut s).unwrap();
        }
        for v in &x {
            assert!((v.to_f64_lossless() - 1.0).abs() < 2e-2, "{name}: {x:?}");
        }
    }
    macro_rules! both {
        ($name:expr, $opt:expr, $steps:expr) => {
            run::<f32, _>($name, &$opt, $steps);
            run::<f64, _>($name, &$opt, $steps);
        };
    }
    both!("sgd", Sgd::new(0.1).unwrap(), 200);
    both!(
        "sgd-nesterov",
        Sgd::from_config(SgdConfig { lr: 0.05, momentum: 0.9, nesterov: true, ..Default::default() })
            .unwrap(),
        300
    );
    both!("adagrad", Adagrad::new(1.0).unwrap(), 500);
    both!(
        "rmsprop",
        RmsProp::from_config(RmsPropConfig { lr: 0.01, centered: true, ..Default::default() }).unwrap(),
        1000
    );
    both!("adadelta", Adadelta::new(10.0).unwrap(), 2000);
    both!("adam", Adam::new(0.05).unwrap(), 1000);
    both!(
        "adamw",
        AdamW::from_config(AdamWConfig { lr: 0.05, weight_decay: 0.0, ..Default::default() }).unwrap(),
        1000
    );
    both!(
        "amsgrad",
        Adam::from_config(AdamConfig { lr: 0.05, amsgrad: true, ..Default::default() }).unwrap(),
        1000
    );
    both!("nadam", NAdam::new(0.05).unwrap(), 1000);
    both!("radam", RAdam::new(0.05).unwrap(), 1000);
    both!("adamax", Adamax::new(0.05).unwrap(), 1000);
    both!("yogi", Yogi::new(0.05).unwrap(), 1000);
    both!(
        "lion",
        Lion::from_config(LionConfig { lr: 0.002, weight_decay: 0.0, ..Default::default() }).unwrap(),
        3000
    );
}

#[test]
fn reduce_on_plateau_resumes_from_its_saved_state() {
    let metrics = [3.0, 2.0, 2.0, 2.0, 2.0, 1.9, 1.9, 1.9, 1.9, 1.9];
    let mut a = ReduceOnPlateau::new(1.0, 0.5, 1).unwrap();
    let full: Vec<f64> = metrics.iter().map(|&m| a.observe(m)).collect();
    let mut b = ReduceOnPlateau::new(1.0, 0.5, 1).unwrap();
    let mut part: Vec<f64> = metrics[..4].iter().map(|&m| b.observe(m)).collect();
    let mut b: ReduceOnPlateau = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
    part.extend(metrics[4..].iter().map(|&m| b.observe(m)));
    assert_eq!(full, part);
    // A schedule is a pure function of the step: sampling it twice gives the same numbers.
    let s = Cosine::new(0.1, 0.0, 10).unwrap();
    assert_eq!(s.sample(12), s.sample(12));
}
