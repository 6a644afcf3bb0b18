//! A stopwatch that keeps every lap, like the source's `Timer`.

use std::time::Instant;

/// Records the durations of laps: it starts when created; [`Timer::stop`] ends a lap and
/// records it; [`Timer::start`] begins the next one.
///
/// # Example
/// ```
/// use gradstep_lab::timer::Timer;
///
/// let mut t = Timer::new();
/// let lap = t.stop();
/// t.start();
/// t.stop();
/// assert_eq!(t.times().len(), 2);
/// assert!(lap >= 0.0 && t.sum() >= lap);
/// assert_eq!(t.cumsum().len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Timer {
    times: Vec<f64>,
    started: Instant,
}

impl Default for Timer {
    fn default() -> Self {
        Self::new()
    }
}

impl Timer {
    /// A timer whose first lap starts now.
    pub fn new() -> Self {
        Self { times: Vec::new(), started: Instant::now() }
    }

    /// Starts a lap (restarting the current one if it was running).
    pub fn start(&mut self) {
        self.started = Instant::now();
    }

    /// Ends the current lap; records and returns its length in seconds.
    pub fn stop(&mut self) -> f64 {
        let t = self.started.elapsed().as_secs_f64();
        self.times.push(t);
        t
    }

    /// The recorded laps, in seconds.
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// The mean lap, or 0 if there is none.
    pub fn avg(&self) -> f64 {
        if self.times.is_empty() { 0.0 } else { self.sum() / self.times.len() as f64 }
    }

    /// The total of the laps.
    pub fn sum(&self) -> f64 {
        self.times.iter().sum()
    }

    /// Running totals of the laps: the time at the end of each.
    pub fn cumsum(&self) -> Vec<f64> {
        self.times
            .iter()
            .scan(0.0, |acc, t| {
                *acc += t;
                Some(*acc)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laps_add_up() {
        let mut t = Timer::new();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let a = t.stop();
        t.start();
        let b = t.stop();
        // A sleep lasts at least as long as asked; nothing is assumed about how fast a lap is.
        assert!(a >= 0.005 && b >= 0.0);
        assert!((t.sum() - (a + b)).abs() < 1e-12 && (t.avg() - (a + b) / 2.0).abs() < 1e-12);
        assert_eq!(t.cumsum(), vec![a, a + b]);
        assert_eq!(Timer::new().avg(), 0.0);
    }
}
