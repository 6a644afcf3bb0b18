//! The LeNet-style CNN of the learning-rate chapter.
//!
//! conv 6@5×5 (padding 2) → ReLU → 2×2 max-pool → conv 16@5×5 → ReLU → 2×2 max-pool →
//! dense 120 → ReLU → dense 84 → ReLU → dense 10, on 1 × 28 × 28 images: the source's network
//! (LeNet with ReLU and max-pooling), 61,706 parameters.

use super::layers::{Layer, Shape};
use super::network::{ModelError, Network};

/// The layers of [`lenet`].
pub const LENET_LAYERS: [Layer; 11] = [
    Layer::Conv { out_channels: 6, kernel: 5, padding: 2 },
    Layer::Relu,
    Layer::MaxPool,
    Layer::Conv { out_channels: 16, kernel: 5, padding: 0 },
    Layer::Relu,
    Layer::MaxPool,
    Layer::Dense { out: 120 },
    Layer::Relu,
    Layer::Dense { out: 84 },
    Layer::Relu,
    Layer::Dense { out: 10 },
];

/// LeNet for 1 × 28 × 28 images and 10 classes, initialised like PyTorch from `seed`.
///
/// # Example
/// ```
/// use gradstep_lab::models::lenet::lenet;
///
/// let mut net = lenet(0);
/// assert_eq!(net.num_params(), 61_706);
/// let logits = net.forward(&[0.5; 2 * 784])?;
/// assert_eq!(logits.len(), 2 * 10);
/// # Ok::<(), gradstep_lab::models::network::ModelError>(())
/// ```
pub fn lenet(seed: u64) -> Network {
    Network::new(Shape::image(1, 28, 28), &LENET_LAYERS, seed).expect("LeNet fits 28 × 28 images")
}

/// LeNet's layers on other image shapes (at least 1 × 16 × 16... in practice 28 × 28 or
/// larger) with `classes` outputs.
///
/// # Errors
/// [`ModelError::Layer`] if the images are too small for the two convolutions and pools.
///
/// # Example
/// ```
/// use gradstep_lab::models::{layers::Shape, lenet::lenet_for};
///
/// assert!(lenet_for(Shape::image(3, 32, 32), 10, 0).is_ok());
/// assert!(lenet_for(Shape::image(1, 8, 8), 10, 0).is_err());
/// ```
pub fn lenet_for(input: Shape, classes: usize, seed: u64) -> Result<Network, ModelError> {
    let mut layers = LENET_LAYERS;
    layers[10] = Layer::Dense { out: classes };
    Network::new(input, &layers, seed)
}

#[cfg(test)]
mod tests {
    use gradstep::{Optimizer, Sgd};

    use super::*;
    use crate::models::network::tests::{check_directional, check_gradients};

    fn images(n: usize, side: usize, seed: u64) -> Vec<f32> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n * side * side).map(|_| rng.random::<f32>()).collect()
    }

    #[test]
    fn a_small_cnn_with_every_layer_kind_matches_finite_differences() {
        let layers = [
            Layer::Conv { out_channels: 3, kernel: 3, padding: 1 },
            Layer::Relu,
            Layer::MaxPool,
            Layer::Conv { out_channels: 4, kernel: 3, padding: 0 },
            Layer::Relu,
            Layer::MaxPool,
            Layer::Dense { out: 5 },
            Layer::Relu,
            Layer::Dense { out: 3 },
        ];
        let mut net = Network::new(Shape::image(2, 10, 10), &layers, 3).unwrap();
        let x: Vec<f32> =
            images(3, 10, 4).into_iter().chain(images(3, 10, 5)).map(|v| 2.0 * v - 1.0).collect();
        check_gradients(&mut net, &x, &[2, 0, 1], 1);
    }

    #[test]
    fn one_pixel_outputs_match_finite_differences() {
        // A convolution or a pooling down to 1 × 1 keeps its output example-major, unlike
        // larger images. Without ReLU between them, the loss is smooth in the convolution.
        let x: Vec<f32> = images(6, 3, 8).into_iter().map(|v| 2.0 * v - 1.0).collect();
        let conv = [Layer::Conv { out_channels: 4, kernel: 3, padding: 0 }, Layer::Dense { out: 3 }];
        let mut net = Network::new(Shape::image(2, 3, 3), &conv, 7).unwrap();
        check_gradients(&mut net, &x, &[2, 0, 1], 1);
        let pool =
            [Layer::Conv { out_channels: 3, kernel: 2, padding: 0 }, Layer::MaxPool, Layer::Dense { out: 3 }];
        let mut net = Network::new(Shape::image(2, 3, 3), &pool, 7).unwrap();
        check_gradients(&mut net, &x, &[2, 0, 1], 1);
    }

    #[test]
    fn threads_share_a_batch_without_changing_a_bit() {
        let small = [
            Layer::Conv { out_channels: 3, kernel: 3, padding: 1 },
            Layer::Relu,
            Layer::MaxPool,
            Layer::Dense { out: 6 },
            Layer::Relu,
            Layer::Dense { out: 4 },
        ];
        // A convolution down to 1 × 1 outputs (kept example-major) after a channel-major one.
        let narrow = [
            Layer::Conv { out_channels: 4, kernel: 3, padding: 0 },
            Layer::Relu,
            Layer::Conv { out_channels: 5, kernel: 4, padding: 0 },
            Layer::Relu,
            Layer::Dense { out: 3 },
        ];
        let nets = [
            (Network::new(Shape::image(2, 6, 6), &small, 3).unwrap(), 37, 6, 4),
            (Network::new(Shape::image(3, 6, 6), &narrow, 5).unwrap(), 19, 6, 3),
            (crate::models::lenet::lenet(1), 70, 28, 10),
        ];
        for (mut one, n, side, classes) in nets {
            one.set_threads(1);
            let c = one.input_shape().c;
            let x = images(c * n, side, 9);
            let labels: Vec<u8> = (0..n).map(|i| (i % classes) as u8).collect();
            let a = one.backprop(&x, &labels).unwrap();
            let (grads, logits) = (one.grads().to_vec(), one.forward(&x).unwrap().to_vec());
            for threads in [2, 3, 4, 16] {
                let mut net = one.clone();
                net.set_threads(threads);
                assert_eq!(net.backprop(&x, &labels).unwrap(), a, "{threads} threads");
                assert_eq!(net.grads(), &grads[..], "{threads} threads");
                assert_eq!(net.forward(&x).unwrap(), &logits[..], "{threads} threads");
            }
        }
    }

    #[test]
    fn a_narrow_lenet_matches_finite_differences_in_every_parameter() {
        // LeNet's geometry (28 × 28, 5 × 5 kernels, padding 2, two pools, three dense layers)
        // with fewer channels and units, so that every parameter can be checked.
        let mut layers = LENET_LAYERS;
        layers[0] = Layer::Conv { out_channels: 2, kernel: 5, padding: 2 };
        layers[3] = Layer::Conv { out_channels: 3, kernel: 5, padding: 0 };
        layers[6] = Layer::Dense { out: 8 };
        layers[8] = Layer::Dense { out: 6 };
        let mut net = Network::new(Shape::image(1, 28, 28), &layers, 2).unwrap();
        check_gradients(&mut net, &images(2, 28, 1), &[3, 8], 1);
    }

    #[test]
    fn lenet_gradients_agree_with_finite_differences_along_random_directions() {
        // With 61,706 parameters moving at once a step crosses some ReLU and pooling kinks,
        // so the agreement is looser than for single parameters (see the narrow test above).
        let mut net = lenet(5);
        check_directional(&mut net, &images(4, 28, 1), &[3, 8, 0, 9], 2, 1e-4, 0.15);
    }

    #[test]
    fn lenet_overfits_a_tiny_batch() {
        let mut net = lenet(0);
        let x = images(8, 28, 2);
        let y = [0u8, 1, 2, 3, 4, 5, 6, 7];
        let opt = Sgd::new(0.1).unwrap();
        let mut state = opt.init(net.num_params());
        let first = net.backprop(&x, &y).unwrap();
        for _ in 0..150 {
            net.backprop(&x, &y).unwrap();
            net.step(&opt, &mut state).unwrap();
        }
        let last = net.loss(&x, &y).unwrap();
        assert!(last.loss < 0.1 * first.loss, "{} -> {}", first.loss, last.loss);
        assert_eq!(last.correct, 8);
    }
}
