//! Prometheus metrics: uploads by provider, slot and status; latency histograms; jobs in flight;
//! time spent waiting for the CPU pool.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0,
];

#[derive(Default)]
pub struct Histogram {
    inner: Mutex<HistogramData>,
}

#[derive(Default)]
struct HistogramData {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        let mut data = self.inner.lock().expect("histogram lock");
        for (bound, count) in BUCKETS.iter().zip(data.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        data.count += 1;
        data.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let data = self.inner.lock().expect("histogram lock");
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in BUCKETS.iter().zip(data.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}",
            data.count, data.sum, data.count
        );
    }
}

#[derive(Default)]
pub struct Metrics {
    uploads: Mutex<BTreeMap<(String, u8, &'static str), u64>>,
    in_flight: AtomicI64,
    pub latency: Histogram,
    pub model_latency: Histogram,
    /// Shared with the CPU pool, which measures it.
    pub cpu_wait: Arc<Histogram>,
}

/// Counts a job in flight until dropped.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn job_started(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    pub fn job_ended(&self, provider: &str, slot: u8, status: &'static str) {
        *self
            .uploads
            .lock()
            .expect("metrics lock")
            .entry((provider.to_owned(), slot, status))
            .or_default() += 1;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP boothgate_uploads_total Uploads that became jobs, by how they ended.\n# TYPE boothgate_uploads_total counter\n");
        for ((provider, slot, status), count) in self.uploads.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "boothgate_uploads_total{{provider=\"{provider}\",slot=\"{slot}\",status=\"{status}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP boothgate_jobs_in_flight Jobs being processed now.\n# TYPE boothgate_jobs_in_flight gauge\nboothgate_jobs_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        self.latency.render(
            &mut out,
            "boothgate_job_seconds",
            "Time from the request's headers to the answer.",
        );
        self.model_latency
            .render(&mut out, "boothgate_model_seconds", "Time the model took.");
        self.cpu_wait.render(
            &mut out,
            "boothgate_cpu_pool_wait_seconds",
            "Time image work waited for the CPU pool.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        let guard = metrics.job_started();
        metrics.job_ended("nanobanana", 3, "succeeded");
        metrics.latency.observe(Duration::from_millis(1500));
        let text = metrics.render();
        assert!(text.contains(
            "boothgate_uploads_total{provider=\"nanobanana\",slot=\"3\",status=\"succeeded\"} 1"
        ));
        assert!(text.contains("boothgate_jobs_in_flight 1"));
        assert!(text.contains("boothgate_job_seconds_bucket{le=\"1\"} 0"));
        assert!(text.contains("boothgate_job_seconds_bucket{le=\"2\"} 1"));
        assert!(text.contains("boothgate_job_seconds_count 1"));
        drop(guard);
        assert!(metrics.render().contains("boothgate_jobs_in_flight 0"));
    }
}
