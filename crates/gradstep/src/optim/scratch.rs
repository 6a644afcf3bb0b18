//! Work space an update needs within a step but not between steps.

/// A buffer the update rule reuses from step to step (Muon's matrix products, Adafactor's
/// column sums). It is not part of the state's value: it is never saved (a resumed state
/// regrows it once, at its first step) and two states that differ only in it are equal.
#[derive(Debug, Clone, Default)]
pub struct Scratch<T>(pub(crate) Vec<T>);

impl<T> PartialEq for Scratch<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T: Copy + Default> Scratch<T> {
    /// The buffer, grown to at least `len` elements (allocating only when it is too short:
    /// the first step, or the first after a resume).
    pub(crate) fn at_least(&mut self, len: usize) -> &mut [T] {
        if self.0.len() < len {
            self.0.resize(len, T::default());
        }
        &mut self.0[..len]
    }
}
