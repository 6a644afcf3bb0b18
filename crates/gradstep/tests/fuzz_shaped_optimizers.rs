//! Property test: Rprop, ASGD, Adafactor, Muon, schedule-free AdamW and LAMB, read from
//! arbitrary JSON (hyperparameters and states: valid ones mutated at random, and random
//! values), then stepped, give `Ok` or a typed `Err`, never a panic; and a step that fails
//! changes neither the parameters nor the state.

use std::panic::{AssertUnwindSafe, catch_unwind};

use gradstep::*;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// A small deterministic generator that drives the mutations (proptest picks its seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
    fn number(&mut self) -> Value {
        match self.below(12) {
            0 => json!(0),
            1 => json!(-1),
            2 => json!(1e308),
            3 => json!(-1e308),
            4 => json!(0.5),
            5 => json!(u64::MAX),
            6 => json!(self.below(8)),
            7 => json!(1.0000001),
            8 => json!(-0.0),
            9 => json!(5e-324),
            10 => json!(1u64 << 53),
            _ => json!((self.next() % 2001) as f64 / 100.0 - 10.0),
        }
    }
    fn junk(&mut self, depth: u32) -> Value {
        match self.below(if depth > 2 { 4 } else { 6 }) {
            0 => Value::Null,
            1 => json!(self.chance(2)),
            2 => self.number(),
            3 => json!("original"),
            4 => Value::Array((0..self.below(4)).map(|_| self.junk(depth + 1)).collect()),
            _ => {
                let mut m = Map::new();
                m.insert("lr".into(), self.junk(depth + 1));
                Value::Object(m)
            }
        }
    }
}

/// Changes `v` in place, here and there.
fn mutate(v: &mut Value, rng: &mut Rng, depth: u32) {
    if rng.chance(12) {
        *v = rng.junk(depth);
        return;
    }
    match v {
        Value::Number(_) => {
            if rng.chance(3) {
                *v = rng.number();
            }
        }
        Value::Bool(b) => {
            if rng.chance(3) {
                *b = !*b;
            }
        }
        Value::Null => {
            if rng.chance(3) {
                *v = rng.number();
            }
        }
        Value::String(_) => {
            if rng.chance(3) {
                *v = json!(["spectral_unclamped", "match_rms_adamw", "bogus"][rng.below(3) as usize]);
            }
        }
        Value::Array(a) => {
            match rng.below(6) {
                0 if !a.is_empty() => {
                    a.truncate(rng.below(a.len() as u64) as usize);
                }
                1 => {
                    let extra = a.first().cloned().unwrap_or_else(|| rng.number());
                    a.push(extra);
                }
                _ => {}
            }
            for x in a.iter_mut() {
                if rng.chance(4) {
                    mutate(x, rng, depth + 1);
                }
            }
        }
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                match rng.below(10) {
                    0 => {
                        m.remove(&k);
                    }
                    1..=4 => mutate(m.get_mut(&k).expect("key"), rng, depth + 1),
                    _ => {}
                }
            }
            if rng.chance(8) {
                m.insert("unknown".into(), rng.junk(depth + 1));
            }
        }
    }
}

/// Reads an optimizer and a state of type `O` from mutated JSON and steps a buffer of `n`
/// parameters; panics (failing the property) only if the library panics, or if a failed step
/// changed something.
fn run_case<T, O>(opt: O, shape: &Shape, n: usize, seed: u64)
where
    T: Float,
    O: Optimizer<T> + Serialize + DeserializeOwned,
    O::State: Serialize,
{
    let mut rng = Rng(seed | 1);
    let state = opt.init_shaped(shape).unwrap_or_else(|_| opt.init(shape.len()));
    let (mut cfg, mut st) = (serde_json::to_value(&opt).unwrap(), serde_json::to_value(&state).unwrap());
    if !rng.chance(4) {
        mutate(&mut cfg, &mut rng, 0);
    }
    if !rng.chance(4) {
        mutate(&mut st, &mut rng, 0);
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let Ok(opt) = serde_json::from_value::<O>(cfg.clone()) else { return };
        let Ok(mut state) = serde_json::from_value::<O::State>(st.clone()) else { return };
        let mut x: Vec<T> = (0..n).map(|i| T::of((i as f64 * 0.37).sin())).collect();
        let g: Vec<T> = (0..n).map(|i| T::of((i as f64 * 0.11).cos() - 0.3)).collect();
        for _ in 0..3 {
            let (x0, s0) = (x.clone(), state.clone());
            let checked = opt.check_state(n, &state);
            match opt.step(&mut x, &g, &mut state) {
                Ok(()) => {
                    assert!(checked.is_ok() || g.len() != n, "check_state refused a state step accepted")
                }
                Err(_) => {
                    assert!(
                        x.iter().zip(&x0).all(|(a, b)| a.to_bits_eq(*b)),
                        "a failed step changed the parameters"
                    );
                    assert!(state == s0, "a failed step changed the state");
                    break;
                }
            }
        }
        let mut e = vec![T::zero(); n];
        let _ = opt.eval_point(&x, &state, &mut e);
    }));
    assert!(outcome.is_ok(), "panicked on optimizer {cfg} and state {st}");
}

/// Bitwise equality (NaN equals NaN): what "unchanged" means.
trait BitsEq {
    fn to_bits_eq(self, other: Self) -> bool;
}
impl<T: Float> BitsEq for T {
    fn to_bits_eq(self, other: Self) -> bool {
        (self.is_nan() && other.is_nan()) || self == other
    }
}

fn shapes() -> impl Strategy<Value = (Vec<usize>, usize)> {
    // A shape and a buffer length: usually the shape's own, sometimes another.
    (prop::collection::vec(0usize..5, 0..4), any::<bool>(), 0usize..30).prop_map(|(dims, own, other)| {
        let len = dims.iter().product::<usize>();
        (dims, if own { len } else { other })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_gives_ok_or_a_typed_error((dims, n) in shapes(), seed in any::<u64>(), f32_run in any::<bool>()) {
        let shape = Shape::new(&dims);
        macro_rules! each {
            ($($opt:expr),*) => {
                $(
                    if f32_run {
                        run_case::<f32, _>($opt, &shape, n, seed);
                    } else {
                        run_case::<f64, _>($opt, &shape, n, seed);
                    }
                )*
            };
        }
        each!(
            Rprop::new(0.1).unwrap(),
            Asgd::from_config(AsgdConfig { t0: 1.0, ..Default::default() }).unwrap(),
            Adafactor::new(0.1).unwrap(),
            Muon::new(0.02).unwrap(),
            AdamWScheduleFree::from_config(AdamWScheduleFreeConfig { warmup_steps: 2, weight_decay: 0.1, ..Default::default() }).unwrap(),
            Lamb::from_config(LambConfig { weight_decay: 0.01, ..Default::default() }).unwrap(),
            AnyOptimizer::from(Muon::new(0.02).unwrap()),
            AnyOptimizer::from(Adafactor::new(0.1).unwrap())
        );
    }

    #[test]
    fn random_json_values_are_rejected_or_accepted_without_panic(seed in any::<u64>()) {
        let mut rng = Rng(seed | 1);
        let v = rng.junk(0);
        catch_unwind(|| {
            let _ = serde_json::from_value::<Muon>(v.clone());
            let _ = serde_json::from_value::<MuonState<f64>>(v.clone());
            let _ = serde_json::from_value::<Adafactor>(v.clone());
            let _ = serde_json::from_value::<AdafactorState<f32>>(v.clone());
            let _ = serde_json::from_value::<Rprop>(v.clone());
            let _ = serde_json::from_value::<Asgd>(v.clone());
            let _ = serde_json::from_value::<Lamb>(v.clone());
            let _ = serde_json::from_value::<AdamWScheduleFree>(v.clone());
            let _ = serde_json::from_value::<AnyState<f64>>(v.clone());
        })
        .map_err(|_| TestCaseError::fail(format!("panicked on {v}")))?;
    }
}
