//! Property tests of Rprop, ASGD, Adafactor, Muon, schedule-free AdamW and LAMB: a run
//! resumed from a JSON checkpoint (optimizer and state) at any step continues bit for bit,
//! matrices included; threads give the serial bits.

use gradstep::*;
use proptest::prelude::*;

mod common;
use common::{resume_is_exact, threads_match_serial};

fn resume_all<T: Float>(x0: &[f64], noise: &[Vec<f64>], cut: usize) -> Result<(), TestCaseError> {
    // x0 has 6 entries: a 2×3 matrix, or a vector.
    let x0: Vec<T> = x0.iter().map(|&v| T::of(v)).collect();
    let (m, v) = (Shape::matrix(2, 3), Shape::vector(6));
    let sf = AdamWScheduleFreeConfig {
        lr: 0.05,
        warmup_steps: 3,
        weight_decay: 0.01,
        r: 0.5,
        ..Default::default()
    };
    resume_is_exact(&Rprop::new(0.1).unwrap(), &v, &x0, noise, cut)?;
    resume_is_exact(
        &Asgd::from_config(AsgdConfig { t0: 2.0, ..Default::default() }).unwrap(),
        &v,
        &x0,
        noise,
        cut,
    )?;
    resume_is_exact(&Adafactor::new(0.1).unwrap(), &m, &x0, noise, cut)?;
    resume_is_exact(&Adafactor::new(0.1).unwrap(), &v, &x0, noise, cut)?;
    resume_is_exact(&Muon::new(0.05).unwrap(), &m, &x0, noise, cut)?;
    resume_is_exact(&Muon::new(0.05).unwrap(), &Shape::matrix(3, 2), &x0, noise, cut)?;
    resume_is_exact(&AdamWScheduleFree::from_config(sf).unwrap(), &v, &x0, noise, cut)?;
    resume_is_exact(&Lamb::new(0.05).unwrap(), &v, &x0, noise, cut)?;
    resume_is_exact(&AnyOptimizer::from(Muon::new(0.05).unwrap()), &m, &x0, noise, cut)?;
    Ok(())
}

fn problem() -> impl Strategy<Value = (Vec<f64>, Vec<Vec<f64>>, usize)> {
    (
        prop::collection::vec(-3.0..3.0f64, 6),
        prop::collection::vec(prop::collection::vec(-1.0..1.0f64, 6), 1..10),
    )
        .prop_flat_map(|(x0, noise)| {
            let n = noise.len();
            (Just(x0), Just(noise), 0..=n)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn resuming_from_a_checkpoint_at_any_step_is_bit_for_bit((x0, noise, cut) in problem()) {
        resume_all::<f64>(&x0, &noise, cut)?;
        resume_all::<f32>(&x0, &noise, cut)?;
    }
}

#[test]
fn threads_give_the_serial_result_bit_for_bit() {
    let n = 200_003;
    let x0: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) / 7.0).collect();
    let g: Vec<f32> = (0..n).map(|i| ((i % 89) as f32 - 44.0) / 3.0).collect();
    threads_match_serial(Rprop::new(0.1).unwrap(), &x0, &g);
    threads_match_serial(Asgd::from_config(AsgdConfig { t0: 1.0, ..Default::default() }).unwrap(), &x0, &g);
    threads_match_serial(AdamWScheduleFree::new(0.1).unwrap(), &x0, &g);
    threads_match_serial(Lamb::new(0.1).unwrap(), &x0, &g);
    threads_match_serial(Adafactor::new(0.1).unwrap(), &x0, &g);
}

#[test]
fn wrappers_pass_shapes_states_and_eval_points_through() {
    use gradstep::schedule::{Cosine, Scheduled};
    let sched = Scheduled::new(Muon::new(1.0).unwrap(), Cosine::new(0.05, 0.0, 10).unwrap());
    let mut s = sched.init_shaped(&Shape::matrix(2, 2)).unwrap();
    let mut w = [1.0_f64, 0.0, 0.0, 1.0];
    sched.step(&mut w, &[1.0, 0.5, 0.0, 1.0], &mut s).unwrap();
    assert!(Optimizer::<f64>::init_shaped(&sched, &Shape::vector(4)).is_err());
    assert!(!Optimizer::<f64>::elementwise(&sched));
    let guard = SkipNonFinite::new(Asgd::new(0.1).unwrap());
    let mut g = guard.init_shaped(&Shape::vector(2)).unwrap();
    let mut x = [1.0_f64, 2.0];
    guard.step(&mut x, &[1.0, 1.0], &mut g).unwrap();
    let mut e = [0.0; 2];
    guard.eval_point(&x, &g, &mut e).unwrap();
    assert_eq!(e, g.inner.ax[..]);
    g.inner.ax.pop();
    assert!(guard.check_state(2, &g).is_err());
}
