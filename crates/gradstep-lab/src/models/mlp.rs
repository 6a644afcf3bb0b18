//! A multilayer perceptron: dense layers with ReLU between them.

use super::layers::{Layer, Shape};
use super::network::{ModelError, Network};

/// An MLP from `input` features through the `hidden` widths (each followed by ReLU) to
/// `classes` scores, initialised like PyTorch from `seed`.
///
/// # Errors
/// [`ModelError`] if a width is 0 or there are fewer than 2 classes.
///
/// # Example
/// ```
/// use gradstep_lab::models::mlp::mlp;
///
/// let net = mlp(784, &[256], 10, 0)?;
/// assert_eq!(net.num_params(), 784 * 256 + 256 + 256 * 10 + 10);
/// # Ok::<(), gradstep_lab::models::network::ModelError>(())
/// ```
pub fn mlp(input: usize, hidden: &[usize], classes: usize, seed: u64) -> Result<Network, ModelError> {
    let mut layers = Vec::with_capacity(2 * hidden.len() + 1);
    for &h in hidden {
        layers.push(Layer::Dense { out: h });
        layers.push(Layer::Relu);
    }
    layers.push(Layer::Dense { out: classes });
    Network::new(Shape::vector(input), &layers, seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::network::tests::check_gradients;

    #[test]
    fn mlp_gradients_match_finite_differences() {
        let mut net = mlp(6, &[7, 5], 3, 1).unwrap();
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let x: Vec<f32> = (0..4 * 6).map(|_| rng.random_range(-1.5..1.5)).collect();
        check_gradients(&mut net, &x, &[0, 2, 1, 2], 1);
    }
}
