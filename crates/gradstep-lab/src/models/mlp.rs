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

    #[test]
    fn a_batch_of_several_shards_has_the_gradient_of_its_mean_loss() {
        use crate::models::network::SHARD;
        use rand::{Rng, SeedableRng};
        let mut net = mlp(6, &[7], 3, 4).unwrap();
        let n = 2 * SHARD + 3;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let x: Vec<f32> = (0..n * 6).map(|_| rng.random_range(-1.5..1.5)).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
        // The mean of the shards' gradients, each shard taken as a batch of its own and
        // weighted by its size.
        let whole = net.backprop(&x, &labels).unwrap();
        let grads = net.grads().to_vec();
        let (mut mean, mut loss) = (vec![0.0f64; grads.len()], 0.0);
        for (xs, ls) in x.chunks(SHARD * 6).zip(labels.chunks(SHARD)) {
            let w = ls.len() as f64 / n as f64;
            loss += w * net.backprop(xs, ls).unwrap().loss;
            mean.iter_mut().zip(net.grads()).for_each(|(m, &g)| *m += w * f64::from(g));
        }
        assert!((whole.loss - loss).abs() < 1e-12, "{} {loss}", whole.loss);
        for (g, m) in grads.iter().zip(&mean) {
            assert!((f64::from(*g) - m).abs() < 1e-6, "{g} {m}");
        }
        // A linear model's loss is smooth, so finite differences check the gradient closely.
        let mut linear = mlp(6, &[], 3, 4).unwrap();
        check_gradients(&mut linear, &x, &labels, 1);
    }
}
