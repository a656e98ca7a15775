//! The load generator, a child process (`tunnel-bench loadgen`) so that it never runs on the
//! tunnel's tokio workers: a sink and a 1 KiB echo server (the upstreams behind every path),
//! and blocking clients driven by one-line commands on stdin, each answered by one line on
//! stdout.
//!
//! Throughput is counted where the bytes arrive, at the sink, over a window that starts after
//! a warm-up; each run then drains completely before it answers, so no run inherits another's
//! bytes in flight.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Size of the request and of the response in the latency test.
const MESSAGE: usize = 1024;
/// Size of each write of the throughput clients and of each read of the sink.
const CHUNK: usize = 256 << 10;
/// A run whose flows have not drained by then has failed.
const DRAIN: Duration = Duration::from_secs(30);

/// The parent's handle on the load generator; the child is killed on drop.
#[derive(Debug)]
pub(crate) struct LoadGen {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub(crate) sink: SocketAddr,
    pub(crate) echo: SocketAddr,
}

/// One throughput run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Throughput {
    /// Over the measured window.
    pub(crate) mib_s: f64,
    /// Everything the run moved, warm-up and drain included: the denominator of CPU per GiB.
    pub(crate) total_gib: f64,
}

/// Latency percentiles of one path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Latency {
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
}

impl LoadGen {
    /// Starts the child and reads the addresses of its sink and echo server.
    pub(crate) fn spawn() -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find this program's executable")?;
        let mut child = Command::new(exe)
            .arg("loadgen")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start the load generator")?;
        let stdin = child.stdin.take().context("load generator has no stdin")?;
        let stdout = BufReader::new(
            child
                .stdout
                .take()
                .context("load generator has no stdout")?,
        );
        let mut load = Self {
            child,
            stdin,
            stdout,
            sink: ([0, 0, 0, 0], 0).into(),
            echo: ([0, 0, 0, 0], 0).into(),
        };
        load.sink = load
            .read_line()?
            .strip_prefix("sink ")
            .context("expected `sink ADDR`")?
            .parse()?;
        load.echo = load
            .read_line()?
            .strip_prefix("echo ")
            .context("expected `echo ADDR`")?
            .parse()?;
        Ok(load)
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self
            .stdout
            .read_line(&mut line)
            .context("cannot read from the load generator")?
            == 0
        {
            bail!("the load generator exited (see its error above)");
        }
        Ok(line.trim().to_owned())
    }

    fn ask(&mut self, command: &str) -> Result<Vec<f64>> {
        writeln!(self.stdin, "{command}").context("cannot write to the load generator")?;
        self.stdin
            .flush()
            .context("cannot write to the load generator")?;
        let answer = self.read_line()?;
        let Some(numbers) = answer.strip_prefix("ok ") else {
            bail!("load generator: {answer}")
        };
        numbers
            .split_whitespace()
            .map(|n| {
                n.parse::<f64>()
                    .with_context(|| format!("bad answer `{answer}`"))
            })
            .collect()
    }

    /// Goodput arriving at the sink through `target` with `flows` parallel connections.
    pub(crate) fn throughput(
        &mut self,
        target: SocketAddr,
        flows: usize,
        warmup: Duration,
        measure: Duration,
    ) -> Result<Throughput> {
        let got = self.ask(&format!(
            "throughput {target} {flows} {} {}",
            warmup.as_millis(),
            measure.as_millis()
        ))?;
        let [bytes, secs, total] = got[..] else {
            bail!("bad throughput answer {got:?}")
        };
        Ok(Throughput {
            mib_s: bytes / secs / f64::from(1u32 << 20),
            total_gib: total / f64::from(1u32 << 30),
        })
    }

    /// Percentiles of 1 KiB request/response exchanges, each on a new TCP connection, for
    /// every target. The targets take turns exchange by exchange, so that load from outside the
    /// benchmark falls on all of them alike and differences of percentiles stay meaningful.
    pub(crate) fn latency(
        &mut self,
        targets: &[SocketAddr],
        warmup: usize,
        samples: usize,
    ) -> Result<Vec<Latency>> {
        let list: Vec<String> = targets.iter().map(SocketAddr::to_string).collect();
        let got = self.ask(&format!("latency {warmup} {samples} {}", list.join(" ")))?;
        if got.len() != 2 * targets.len() {
            bail!("bad latency answer {got:?}");
        }
        Ok(got
            .chunks(2)
            .map(|p| Latency {
                p50_us: p[0] / 1e3,
                p99_us: p[1] / 1e3,
            })
            .collect())
    }
}

impl Drop for LoadGen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the sink has seen.
#[derive(Debug, Default)]
struct Sink {
    bytes: AtomicU64,
    open: AtomicU64,
}

/// `tunnel-bench loadgen`: serves until stdin closes.
pub(crate) fn child_main() -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let sink = Arc::new(Sink::default());
    let (sink_addr, echo_addr) = rt.block_on(async {
        let sink_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the sink")?;
        let echo_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the echo server")?;
        let addrs = (sink_listener.local_addr()?, echo_listener.local_addr()?);
        tokio::spawn(serve_sink(sink_listener, sink.clone()));
        tokio::spawn(serve_echo(echo_listener));
        anyhow::Ok(addrs)
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "sink {sink_addr}\necho {echo_addr}")?;
    out.flush()?;
    for line in std::io::stdin().lines() {
        let line = line.context("cannot read a command")?;
        let answer = match command(&line, &sink) {
            Ok(numbers) => format!(
                "ok {}",
                numbers
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Err(error) => format!("error {error:#}"),
        };
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}

fn command(line: &str, sink: &Sink) -> Result<Vec<f64>> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let ms = |s: &str| -> Result<Duration> { Ok(Duration::from_millis(s.parse()?)) };
    match words[..] {
        ["throughput", target, flows, warmup, measure] => {
            let (bytes, secs, total) = throughput(
                target.parse()?,
                flows.parse()?,
                ms(warmup)?,
                ms(measure)?,
                sink,
            )?;
            Ok(vec![bytes as f64, secs, total as f64])
        }
        ["latency", warmup, samples, ref targets @ ..] if !targets.is_empty() => {
            let targets = targets
                .iter()
                .map(|t| t.parse())
                .collect::<Result<Vec<SocketAddr>, _>>()?;
            let mut out = Vec::new();
            for mut ns in latency(&targets, warmup.parse()?, samples.parse()?)? {
                ns.sort_unstable();
                out.extend([percentile(&ns, 0.50), percentile(&ns, 0.99)]);
            }
            Ok(out)
        }
        _ => bail!("unknown command `{line}`"),
    }
}

/// The nearest-rank percentile of sorted samples.
fn percentile(sorted: &[u64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or(0) as f64
}

/// Bytes in the measured window, its length in seconds, and all bytes of the run.
fn throughput(
    target: SocketAddr,
    flows: usize,
    warmup: Duration,
    measure: Duration,
    sink: &Sink,
) -> Result<(u64, f64, u64)> {
    let before = sink.bytes.load(Ordering::Acquire);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..flows {
        let stream =
            TcpStream::connect(target).with_context(|| format!("cannot connect to {target}"))?;
        // A stalled path fails the run instead of hanging it.
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        stream.set_read_timeout(Some(DRAIN))?;
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || write_until(stream, &stop)));
    }
    std::thread::sleep(warmup);
    let (start_bytes, start) = (sink.bytes.load(Ordering::Acquire), Instant::now());
    std::thread::sleep(measure);
    let (end_bytes, secs) = (
        sink.bytes.load(Ordering::Acquire),
        start.elapsed().as_secs_f64(),
    );
    stop.store(true, Ordering::Release);
    for writer in writers {
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("a writer thread panicked"))??;
    }
    let deadline = Instant::now() + DRAIN;
    while sink.open.load(Ordering::Acquire) > 0 {
        if Instant::now() > deadline {
            bail!(
                "{} sink connections still open {} s after the clients finished",
                sink.open.load(Ordering::Acquire),
                DRAIN.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok((
        end_bytes - start_bytes,
        secs,
        sink.bytes.load(Ordering::Acquire) - before,
    ))
}

/// Writes until told to stop, then half-closes and waits for the far end to close.
fn write_until(mut stream: TcpStream, stop: &AtomicBool) -> Result<()> {
    let chunk = vec![0x5au8; CHUNK];
    while !stop.load(Ordering::Acquire) {
        stream.write_all(&chunk).context("write failed")?;
    }
    stream
        .shutdown(Shutdown::Write)
        .context("cannot half-close")?;
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .context("the path did not close after the client finished")?;
    Ok(())
}

/// Nanoseconds of each exchange, per target; the first `warmup` rounds are not returned.
fn latency(targets: &[SocketAddr], warmup: usize, samples: usize) -> Result<Vec<Vec<u64>>> {
    let mut out = vec![Vec::with_capacity(samples); targets.len()];
    for round in 0..warmup + samples {
        for (target, times) in targets.iter().zip(&mut out) {
            let took =
                exchange(*target).with_context(|| format!("exchange {round} with {target}"))?;
            if round >= warmup {
                times.push(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
            }
        }
    }
    Ok(out)
}

/// One 1 KiB request and its 1 KiB response on a new connection, timed from before the
/// connect to the last byte of the response.
fn exchange(target: SocketAddr) -> Result<Duration> {
    let request = [0x42u8; MESSAGE];
    let mut response = [0u8; MESSAGE];
    let start = Instant::now();
    let mut stream = TcpStream::connect(target).context("cannot connect")?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream
        .write_all(&request)
        .context("cannot send the request")?;
    stream.read_exact(&mut response).context("no response")?;
    Ok(start.elapsed())
}

async fn serve_sink(listener: tokio::net::TcpListener, sink: Arc<Sink>) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let sink = sink.clone();
        sink.open.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            let mut buf = vec![0u8; CHUNK];
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                sink.bytes.fetch_add(n as u64, Ordering::AcqRel);
            }
            drop(stream);
            sink.open.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

async fn serve_echo(listener: tokio::net::TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = [0u8; MESSAGE];
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
    }
}
