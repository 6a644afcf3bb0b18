//! Any optimizer of the crate as one type, so that one set of parameter groups can mix them.

use serde::{Deserialize, Serialize};

use super::*;
use crate::{Error, Float, Optimizer, Result, Shape};

macro_rules! any_optimizer {
    ($($name:ident($opt:ident, $state:ident)),* $(,)?) => {
        /// Any optimizer of this crate, as one type: what a set of [`crate::ParamGroups`] that
        /// mixes optimizers is built over, e.g. Muon for the hidden matrices and AdamW for
        /// embeddings, biases and the output layer, the way Muon is used in practice.
        ///
        /// An enum rather than `Box<dyn Optimizer>`, for three reasons. [`Optimizer`] has an
        /// associated state type and generic methods ([`Optimizer::step_array`]), so it is not
        /// object-safe, and a `dyn` version would have to erase the state behind `Any` and
        /// downcasts. A checkpoint must be written and read back: an enum is plain serde
        /// (`{"Muon": {"lr": 0.02, …}}`), where trait objects would need a registry of type
        /// names. And the set of optimizers is this crate's, known when it is compiled. The
        /// price, one `match` per tensor per step, is nothing next to the loop over the tensor.
        /// Every variant dispatches to the optimizer itself, so a mixed run gives the bits of
        /// the separate ones.
        ///
        /// Its state is [`AnyState`]: a state given to the wrong optimizer is
        /// [`Error::StateMismatch`], never a panic.
        ///
        /// ```
        /// use gradstep::{AdamW, AnyOptimizer, Muon, Optimizer, ParamGroups, Shape};
        ///
        /// let mut groups = ParamGroups::<f64, AnyOptimizer>::new();
        /// groups.push_shaped(Muon::new(0.02)?.into(), &[Shape::matrix(3, 2)])?; // hidden layer
        /// groups.push_shaped(AdamW::new(3e-4)?.into(), &[Shape::vector(3), Shape::vector(1)])?;
        /// let state = groups.init();
        /// let saved = serde_json::to_string(&(&groups, &state)).expect("serialisable");
        /// assert!(saved.contains("\"Muon\"") && saved.contains("\"AdamW\""));
        /// # Ok::<(), gradstep::Error>(())
        /// ```
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum AnyOptimizer {
            $(
                #[doc = concat!("[`", stringify!($opt), "`]")]
                $name($opt),
            )*
        }

        /// State of [`AnyOptimizer`]: the state of the optimizer of the same name.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
        #[non_exhaustive]
        pub enum AnyState<T> {
            $(
                #[doc = concat!("[`", stringify!($state), "`]")]
                $name($state<T>),
            )*
        }

        $(
            impl From<$opt> for AnyOptimizer {
                fn from(o: $opt) -> Self {
                    Self::$name(o)
                }
            }
        )*

        impl AnyOptimizer {
            /// The optimizer's name, e.g. "Muon".
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$name(_) => stringify!($name),)*
                }
            }
        }

        impl<T> AnyState<T> {
            /// The name of the optimizer the state belongs to.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$name(_) => stringify!($name),)*
                }
            }
        }

        impl<T: Float> Optimizer<T> for AnyOptimizer {
            type State = AnyState<T>;

            fn init(&self, len: usize) -> AnyState<T> {
                match self {
                    $(Self::$name(o) => AnyState::$name(o.init(len)),)*
                }
            }

            fn check_shape(&self, shape: &Shape) -> Result<()> {
                match self {
                    $(Self::$name(o) => Optimizer::<T>::check_shape(o, shape),)*
                }
            }

            fn init_shaped(&self, shape: &Shape) -> Result<AnyState<T>> {
                match self {
                    $(Self::$name(o) => o.init_shaped(shape).map(AnyState::$name),)*
                }
            }

            fn check_state(&self, len: usize, state: &AnyState<T>) -> Result<()> {
                match (self, state) {
                    $((Self::$name(o), AnyState::$name(s)) => o.check_state(len, s),)*
                    (o, s) => Err(Error::StateMismatch { optimizer: o.name(), state: s.name() }),
                }
            }

            fn step(&self, params: &mut [T], grads: &[T], state: &mut AnyState<T>) -> Result<()> {
                match (self, state) {
                    $((Self::$name(o), AnyState::$name(s)) => o.step(params, grads, s),)*
                    (o, s) => Err(Error::StateMismatch { optimizer: o.name(), state: s.name() }),
                }
            }

            fn step_parallel(
                &self,
                params: &mut [T],
                grads: &[T],
                state: &mut AnyState<T>,
                threads: usize,
            ) -> Result<()> {
                match (self, state) {
                    $((Self::$name(o), AnyState::$name(s)) => o.step_parallel(params, grads, s, threads),)*
                    (o, s) => Err(Error::StateMismatch { optimizer: o.name(), state: s.name() }),
                }
            }

            fn eval_point(&self, params: &[T], state: &AnyState<T>, out: &mut [T]) -> Result<()> {
                match (self, state) {
                    $((Self::$name(o), AnyState::$name(s)) => o.eval_point(params, s, out),)*
                    (o, s) => Err(Error::StateMismatch { optimizer: o.name(), state: s.name() }),
                }
            }

            fn elementwise(&self) -> bool {
                match self {
                    $(Self::$name(o) => Optimizer::<T>::elementwise(o),)*
                }
            }

            fn learning_rate(&self) -> f64 {
                match self {
                    $(Self::$name(o) => Optimizer::<T>::learning_rate(o),)*
                }
            }

            fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
                match self {
                    $(Self::$name(o) => Optimizer::<T>::set_learning_rate(o, lr),)*
                }
            }
        }
    };
}

any_optimizer! {
    Sgd(Sgd, SgdState),
    Adagrad(Adagrad, AdagradState),
    RmsProp(RmsProp, RmsPropState),
    Adadelta(Adadelta, AdadeltaState),
    Adam(Adam, AdamState),
    AdamW(AdamW, AdamState),
    NAdam(NAdam, NAdamState),
    RAdam(RAdam, RAdamState),
    Adamax(Adamax, AdamaxState),
    Yogi(Yogi, YogiState),
    Lion(Lion, LionState),
    Rprop(Rprop, RpropState),
    Asgd(Asgd, AsgdState),
    Adafactor(Adafactor, AdafactorState),
    Muon(Muon, MuonState),
    AdamWScheduleFree(AdamWScheduleFree, AdamWScheduleFreeState),
    Lamb(Lamb, LambState),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParamGroups;

    #[test]
    fn a_mixed_run_gives_the_bits_of_the_separate_ones_and_survives_a_checkpoint() {
        let muon = Muon::new(0.05).unwrap();
        let adamw = AdamW::new(0.01).unwrap();
        let mut groups = ParamGroups::<f64, AnyOptimizer>::new();
        groups.push_shaped(muon.into(), &[Shape::matrix(2, 3)]).unwrap();
        groups.push_shaped(adamw.into(), &[Shape::vector(2)]).unwrap();
        let mut state = groups.init();
        let (mut w, mut b) = (vec![0.5_f64, -0.2, 0.1, 0.3, 0.0, -0.4], vec![0.1_f64, 0.2]);
        let (mut w2, mut b2) = (w.clone(), b.clone());
        let mut sw = muon.init_shaped(&Shape::matrix(2, 3)).unwrap();
        let mut sb = Optimizer::<f64>::init(&adamw, 2);
        let grads = |w: &[f64], b: &[f64]| -> (Vec<f64>, Vec<f64>) {
            (
                w.iter().enumerate().map(|(i, v)| v * (i as f64 + 1.0)).collect(),
                b.iter().map(|v| 2.0 * v).collect(),
            )
        };
        for t in 0..6 {
            if t == 3 {
                let text = serde_json::to_string(&(&groups, &state)).unwrap();
                let back: (ParamGroups<f64, AnyOptimizer>, crate::GroupsState<AnyState<f64>>) =
                    serde_json::from_str(&text).unwrap();
                groups = back.0;
                state = back.1;
            }
            let (gw, gb) = grads(&w, &b);
            groups.step(&mut [&mut w[..], &mut b[..]], &[&gw[..], &gb[..]], &mut state).unwrap();
            let (gw, gb) = grads(&w2, &b2);
            muon.step(&mut w2, &gw, &mut sw).unwrap();
            adamw.step(&mut b2, &gb, &mut sb).unwrap();
        }
        assert_eq!((w, b), (w2, b2));
    }

    #[test]
    fn a_state_of_another_optimizer_is_an_error_and_changes_nothing() {
        let mut groups = ParamGroups::<f64, AnyOptimizer>::new();
        groups.push(AnyOptimizer::from(Sgd::new(0.1).unwrap()), &[1]);
        groups.push(AnyOptimizer::from(Adam::new(0.1).unwrap()), &[1]);
        let mut state = groups.init();
        state.states[1][0] = AnyState::Sgd(Optimizer::<f64>::init(&Sgd::new(0.1).unwrap(), 1));
        let before = state.clone();
        let (mut a, mut b) = ([1.0], [1.0]);
        let e = groups.step(&mut [&mut a, &mut b], &[&[1.0], &[1.0]], &mut state).unwrap_err();
        assert_eq!(e, Error::StateMismatch { optimizer: "Adam", state: "Sgd" });
        assert_eq!((a, b, state), ([1.0], [1.0], before));
    }
}
