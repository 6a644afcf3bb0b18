//! Small models with hand-derived gradients, each checked against finite differences.
//!
//! - [`linreg`]: linear regression with squared loss (the minibatch chapters).
//! - [`layers`]: dense, convolution, max-pooling, ReLU and softmax cross-entropy layers.
//! - [`mlp`]: a multilayer perceptron built from them.
//! - [`lenet`]: the LeNet-style CNN of the learning-rate chapter.
//! - [`softmax_regression`]: multinomial logistic regression in `f64` for the classical methods
//!   (the conjugate-gradient and L-BFGS chapter).
//!
//! Classifiers are [`network::Network`]s (layers in one flat parameter vector), which the
//! training loop of [`crate::train::classify`] drives.

pub mod layers;
pub mod lenet;
pub mod linreg;
pub mod mlp;
pub mod network;
pub mod softmax_regression;
