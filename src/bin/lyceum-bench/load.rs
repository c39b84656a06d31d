//! Read load on a running server from separate processes: `wrk` at fixed concurrency, and
//! this binary's own `load` subcommand at a fixed rate (which wrk cannot do).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// What one load run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadResult {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answers that were not 2xx, and requests that got no answer.
    pub errors: u64,
    pub requests: u64,
}

/// What a load run asks for: the page, its `Accept`, and the `Cookie` of a signed-in
/// reader (`None`: a visitor without cookies).
pub struct Page<'a> {
    pub url: &'a str,
    pub accept: &'a str,
    pub cookie: Option<&'a str>,
}

/// `wrk -t2 -c{connections} -d{seconds}s --latency`, the reference setting.
pub fn wrk(page: &Page, connections: u32, seconds: u64) -> anyhow::Result<LoadResult> {
    let mut command = Command::new("wrk");
    command.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
        "-H",
        &format!("Accept: {}", page.accept),
    ]);
    if let Some(cookie) = page.cookie {
        command.args(["-H", &format!("Cookie: {cookie}")]);
    }
    let output = command
        .arg(page.url)
        .output()
        .context("cannot run wrk (Debian: apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_wrk(&text).with_context(|| format!("unexpected wrk output:\n{text}"))
}

/// Reads requests/s, the 50 % and 99 % latencies and the error counts from wrk's report.
fn parse_wrk(text: &str) -> anyhow::Result<LoadResult> {
    let mut result = LoadResult {
        requests_per_second: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        errors: 0,
        requests: 0,
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", value] => result.p50_ms = wrk_millis(value)?,
            ["99%", value] => result.p99_ms = wrk_millis(value)?,
            ["Requests/sec:", value] => result.requests_per_second = value.parse()?,
            [count, "requests", "in", ..] => result.requests = count.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                result.errors += count.parse::<u64>()?
            }
            ["Socket", "errors:", rest @ ..] => {
                // "connect 0, read 0, write 0, timeout 0"
                for pair in rest.chunks(2) {
                    if let [_, count] = pair {
                        result.errors += count.trim_end_matches(',').parse::<u64>()?;
                    }
                }
            }
            _ => {}
        }
    }
    if result.requests_per_second.is_nan() || result.p99_ms.is_nan() {
        bail!("no Requests/sec or 99% line");
    }
    Ok(result)
}

/// wrk prints latencies as `812.00us`, `1.23ms` or `1.05s`.
fn wrk_millis(value: &str) -> anyhow::Result<f64> {
    let (number, factor) = if let Some(n) = value.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else {
        bail!("latency without unit: {value}")
    };
    Ok(number.parse::<f64>()? * factor)
}

/// Runs `lyceum-bench load` as a child process and reads its JSON line.
pub fn fixed_rate(page: &Page, rate: u32, seconds: u64) -> anyhow::Result<LoadResult> {
    let mut command = Command::new(std::env::current_exe()?);
    command.args([
        "load",
        "--url",
        page.url,
        "--accept",
        page.accept,
        "--rate",
        &rate.to_string(),
        "--seconds",
        &seconds.to_string(),
    ]);
    if let Some(cookie) = page.cookie {
        command.args(["--cookie", cookie]);
    }
    let output = command.output().context("cannot start the load process")?;
    if !output.status.success() {
        bail!(
            "the load process failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// The `load` subcommand: `rate` GETs a second for `seconds`, each started on schedule
/// whatever the earlier ones are doing (open loop), its latency counted from when it was
/// due, so a stalled server shows in the figures instead of slowing the load down.
pub async fn open_loop(
    url: String,
    accept: String,
    cookie: Option<String>,
    rate: u32,
    seconds: u64,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(10))
        .build()?;
    let total = u64::from(rate) * seconds;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let accept = Arc::new(accept);
    let cookie = Arc::new(cookie);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..total {
        let due = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, accept, cookie) =
            (client.clone(), url.clone(), accept.clone(), cookie.clone());
        tasks.spawn(async move {
            let mut request = client.get(&url).header("accept", accept.as_str());
            if let Some(cookie) = cookie.as_deref() {
                request = request.header("cookie", cookie);
            }
            let ok = match request.send().await {
                Ok(response) => {
                    let success = response.status().is_success();
                    success && response.bytes().await.is_ok()
                }
                Err(_) => false,
            };
            (ok, due.elapsed())
        });
    }
    let mut latencies = Vec::with_capacity(total as usize);
    let mut errors = 0;
    while let Some(joined) = tasks.join_next().await {
        let (ok, latency) = joined?;
        if !ok {
            errors += 1;
        }
        latencies.push(latency.as_secs_f64() * 1000.0);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let result = LoadResult {
        requests_per_second: total as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        errors,
        requests: total,
    };
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}

/// The value below which `share` of the sorted `values` lie (nearest rank).
pub fn percentile(sorted: &[f64], share: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_reports() {
        let report = "Running 15s test @ http://127.0.0.1:8000/c/bench\n  2 threads and 32 connections\n  \
            Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     5.10ms    2.01ms  40.12ms   80.00%\n  \
            Latency Distribution\n     50%  812.00us\n     75%    5.00ms\n     90%    7.00ms\n     99%    1.20s\n  \
            90000 requests in 15.00s, 100.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 3\n  \
            Non-2xx or 3xx responses: 4\nRequests/sec:   6000.50\nTransfer/sec:      6.67MB\n";
        let result = parse_wrk(report).expect("parses");
        assert_eq!(result.p50_ms, 0.812);
        assert_eq!(result.p99_ms, 1200.0);
        assert_eq!(result.requests_per_second, 6000.5);
        assert_eq!(result.requests, 90000);
        assert_eq!(result.errors, 9);
        assert!(parse_wrk("nothing useful").is_err());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.50), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
