//! Summary statistics over repeated measurements.

/// Mean, standard deviation, median and minimum of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
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

#[cfg(test)]
mod tests {
    use super::Summary;

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
