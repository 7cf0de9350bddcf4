//! Summary statistics over repeated measurements, and percentiles of latency samples.

use serde::Serialize;

/// Mean, standard deviation, median and minimum of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub mean: f64,
    pub stddev: f64,
    pub median: f64,
    pub min: f64,
    pub count: usize,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let count = samples.len();
        let mean = samples.iter().sum::<f64>() / count as f64;
        // Sample standard deviation (n - 1), as llama-bench reports it; 0 for one sample.
        let stddev = if count > 1 {
            let var = samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (count - 1) as f64;
            var.sqrt()
        } else {
            0.0
        };
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = if count % 2 == 1 {
            sorted[count / 2]
        } else {
            (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0
        };
        Some(Self {
            mean,
            stddev,
            median,
            min: sorted[0],
            count,
        })
    }
}

/// The `p`-th percentile (0 ≤ p ≤ 100) of `samples`, interpolating linearly between the two
/// nearest ranks (as numpy's default does); `None` when there are no samples.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    let weight = rank - low as f64;
    Some(sorted[low] + (sorted[high] - sorted[low]) * weight)
}

#[cfg(test)]
mod tests {
    use super::{percentile, Summary};

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let samples = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(percentile(&samples, 50.0), Some(3.0));
        assert_eq!(percentile(&samples, 0.0), Some(1.0));
        assert_eq!(percentile(&samples, 100.0), Some(5.0));
        assert_eq!(percentile(&samples, 95.0), Some(4.8));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&samples, 101.0), None);
    }

    #[test]
    fn summary_of_known_samples() {
        let s = Summary::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.mean, 5.0);
        assert!((s.stddev - 2.138_089_935).abs() < 1e-6, "{}", s.stddev);
        assert_eq!(s.median, 4.5);
        assert_eq!(s.min, 2.0);
        assert_eq!(s.count, 8);
    }

    #[test]
    fn summary_of_one_and_none() {
        let s = Summary::of(&[3.0]).unwrap();
        assert_eq!((s.mean, s.stddev, s.median), (3.0, 0.0, 3.0));
        assert_eq!(Summary::of(&[]), None);
    }
}
