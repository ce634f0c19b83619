//! Percentiles and the machine description printed with every run.

use std::time::Duration;

/// Latency samples.
#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn quantile(&self, q: f64) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        if v.is_empty() {
            return Duration::ZERO;
        }
        let i = ((v.len() as f64 - 1.0) * q).round() as usize;
        v[i.min(v.len() - 1)]
    }

    pub fn p50(&self) -> String {
        ms(self.quantile(0.5))
    }

    pub fn p99(&self) -> String {
        ms(self.quantile(0.99))
    }

    pub fn total(&self) -> Duration {
        self.0.iter().sum()
    }

    pub fn p50_secs(&self) -> f64 {
        self.quantile(0.5).as_secs_f64()
    }
}

/// A duration in milliseconds, with sensible precision.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1e3)
    }
}

/// CPU, cores, memory, git version and build profile.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or_else(|| "?".into(), |kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0));
    let git = std::process::Command::new("git")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let profile = if cfg!(debug_assertions) { "debug build (figures are not representative)" } else { "release build" };
    format!("Machine: {cpu}, {cores} cores, {mem}; {git}; {profile}.")
}
