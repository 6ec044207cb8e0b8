//! Client commands: stream, ping, identify, perf, streams.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{
    identify, ping,
    swarm::{dial_opts::DialOpts, SwarmEvent},
    Multiaddr, PeerId, Stream, StreamProtocol, Swarm,
};
use rand::{RngCore as _, SeedableRng as _};

use crate::{
    args::{Args, Error},
    server::{encode_lp, read_lp, MAX_STREAM_PROTO_MESSAGE, PERF_BLOCK},
    Behaviour, BehaviourEvent,
};

/// Bounds every client command except perf.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Bounds a perf run.
const PERF_TIMEOUT: Duration = Duration::from_secs(600);
/// Interval between pings of `ping --count N` (rust-libp2p pings on a timer on one stream).
const PING_INTERVAL: Duration = Duration::from_millis(100);
/// Bounds the graceful close at the end of a client command.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Size of each /switchyard/echo/1.0.0 payload in `streams`.
const ECHO_PAYLOAD: usize = 64 * 1024;

pub async fn run(cmd: &str, a: &Args, addr: Multiaddr, peer: PeerId) -> Result<(), Error> {
    let start = Instant::now();
    let timeout = if cmd == "perf" {
        PERF_TIMEOUT
    } else {
        COMMAND_TIMEOUT
    };
    // Validate options before any network activity.
    let count = match cmd {
        "ping" => a.uint("count", 1, false)?,
        "streams" => a.uint("count", 50, false)?,
        _ => 0,
    };
    if cmd == "ping" && count == 0 {
        return Err(Error::usage("--count must be at least 1"));
    }
    if cmd == "streams" && !(1..=1000).contains(&count) {
        return Err(Error::usage("--count must be between 1 and 1000"));
    }
    let (upload, download) = if cmd == "perf" {
        (
            a.uint("upload-bytes", 0, true)?,
            a.uint("download-bytes", 0, true)?,
        )
    } else {
        (0, 0)
    };

    let security = crate::Security::parse_list(a.last("security"))?;
    let mut swarm = crate::build_swarm(a.last("key"), &security, PING_INTERVAL, None, false).await?;
    let work = async {
        connect(&mut swarm, addr, peer).await?;
        let control = swarm.behaviour().stream.new_control();
        match cmd {
            "stream" => drive(&mut swarm, client_stream(control, peer)).await,
            "perf" => {
                drive(
                    &mut swarm,
                    client_perf(control, peer, upload, download, start),
                )
                .await
            }
            "streams" => drive(&mut swarm, client_streams(control, peer, count as usize)).await,
            "ping" => client_ping(&mut swarm, peer, count).await,
            "identify" => client_identify(&mut swarm, peer).await,
            _ => Err(Error::usage(format!("unknown command {cmd:?}"))),
        }
    };
    let result = match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::runtime(format!(
            "{cmd} did not finish within {} s",
            timeout.as_secs()
        ))),
    };
    disconnect(&mut swarm, peer).await;
    result
}

/// Closes the connection gracefully (yamux GoAway, then TCP FIN) instead of letting process
/// exit reset it; bounded by CLOSE_TIMEOUT.
async fn disconnect(swarm: &mut Swarm<Behaviour>, peer: PeerId) {
    if swarm.disconnect_peer_id(peer).is_err() {
        return;
    }
    let wait = async {
        while swarm.is_connected(&peer) {
            swarm.select_next_some().await;
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, wait).await;
}

/// Dials `addr` expecting `peer` and waits until the connection is established.
pub async fn connect(swarm: &mut Swarm<Behaviour>, addr: Multiaddr, peer: PeerId) -> Result<(), Error> {
    let opts = DialOpts::peer_id(peer)
        .addresses(vec![addr.clone()])
        .build();
    swarm
        .dial(opts)
        .map_err(|e| Error::runtime(format!("dialing {addr}: {e}")))?;
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == peer => return Ok(()),
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                return Err(Error::runtime(format!("connecting to {addr}: {error}")))
            }
            _ => {}
        }
    }
}

/// Polls the swarm while `work` runs (libp2p-stream needs the swarm to make progress).
async fn drive<F>(swarm: &mut Swarm<Behaviour>, work: F) -> Result<(), Error>
where
    F: Future<Output = Result<(), Error>>,
{
    tokio::pin!(work);
    loop {
        tokio::select! {
            result = &mut work => return result,
            event = swarm.select_next_some() => {
                if let SwarmEvent::ConnectionClosed { peer_id, cause: Some(cause), .. } = event {
                    eprintln!("[client] connection to {peer_id} closed: {cause}");
                }
            }
        }
    }
}

async fn open(
    control: &mut libp2p_stream::Control,
    peer: PeerId,
    protocol: StreamProtocol,
) -> Result<Stream, Error> {
    control
        .open_stream(peer, protocol.clone())
        .await
        .map_err(|e| Error::runtime(format!("opening {protocol} stream to {peer}: {e}")))
}

fn io_err(context: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::runtime(format!("{context}: {e}"))
}

/// The nim tutorial 3 client: send "please send data" as one LP message, then print every LP
/// message until the server closes its side.
async fn client_stream(mut control: libp2p_stream::Control, peer: PeerId) -> Result<(), Error> {
    let mut s = open(&mut control, peer, crate::STREAM_PROTO).await?;
    s.write_all(&encode_lp(b"please send data"))
        .await
        .map_err(io_err("writing the request"))?;
    s.flush().await.map_err(io_err("writing the request"))?;
    while let Some(msg) = read_lp(&mut s, MAX_STREAM_PROTO_MESSAGE)
        .await
        .map_err(io_err("reading a stream-proto message"))?
    {
        println!(
            "[client] received from server: {}",
            String::from_utf8_lossy(&msg)
        );
    }
    s.close().await.map_err(io_err("closing the stream"))
}

/// Pings with rust-libp2p's ping behaviour (one outbound stream, a ping every 100 ms).
async fn client_ping(swarm: &mut Swarm<Behaviour>, peer: PeerId, count: u64) -> Result<(), Error> {
    let mut done = 0;
    while done < count {
        match swarm.select_next_some().await {
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer: p, result, ..
            })) if p == peer => {
                let rtt = result.map_err(|e| Error::runtime(format!("ping {}: {e}", done + 1)))?;
                println!("RTT {:.3} ms", rtt.as_secs_f64() * 1000.0);
                done += 1;
            }
            SwarmEvent::ConnectionClosed { cause, .. } => {
                return Err(Error::runtime(format!(
                    "connection closed after {done} of {count} pings: {cause:?}"
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Prints the remote's identify info (rust-libp2p's identify behaviour asks on every new
/// connection) as one JSON object; an absent observedAddr is null.
async fn client_identify(swarm: &mut Swarm<Behaviour>, peer: PeerId) -> Result<(), Error> {
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) if peer_id == peer => {
                let observed = if info.observed_addr.is_empty() {
                    "null".to_string()
                } else {
                    json_string(&info.observed_addr.to_string())
                };
                let list = |items: Vec<String>| {
                    format!(
                        "[{}]",
                        items
                            .iter()
                            .map(|s| json_string(s))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                };
                println!(
                    "{{\"peerId\":{},\"protocolVersion\":{},\"agentVersion\":{},\"listenAddrs\":{},\"protocols\":{},\"observedAddr\":{}}}",
                    json_string(&info.public_key.to_peer_id().to_string()),
                    json_string(&info.protocol_version),
                    json_string(&info.agent_version),
                    list(info.listen_addrs.iter().map(|a| a.to_string()).collect()),
                    list(info.protocols.iter().map(|p| p.to_string()).collect()),
                    observed,
                );
                return Ok(());
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Error {
                peer_id,
                error,
                ..
            })) if peer_id == peer => {
                return Err(Error::runtime(format!(
                    "identify with {peer_id} failed: {error}"
                )))
            }
            SwarmEvent::ConnectionClosed { cause, .. } => {
                return Err(Error::runtime(format!(
                    "connection closed before identify: {cause:?}"
                )))
            }
            _ => {}
        }
    }
}

/// A JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn perf_line(kind: &str, seconds: f64, up: u64, down: u64) {
    println!(
        "{{\"type\":\"{kind}\",\"timeSeconds\":{seconds},\"uploadBytes\":{up},\"downloadBytes\":{down}}}"
    );
}

/// Prints an "intermediary" perf line at most once per second.
struct Progress {
    last: Instant,
    up: u64,
    down: u64,
}

impl Progress {
    fn add(&mut self, up: u64, down: u64) {
        self.up += up;
        self.down += down;
        let elapsed = self.last.elapsed();
        if elapsed >= Duration::from_secs(1) {
            perf_line("intermediary", elapsed.as_secs_f64(), self.up, self.down);
            self.last = Instant::now();
            self.up = 0;
            self.down = 0;
        }
    }
}

/// /perf/1.0.0 client (libp2p specs perf/perf.md). The final timeSeconds covers connection
/// establishment plus the transfer, as in libp2p/test-plans perf.
async fn client_perf(
    mut control: libp2p_stream::Control,
    peer: PeerId,
    upload: u64,
    download: u64,
    start: Instant,
) -> Result<(), Error> {
    let mut s = open(&mut control, peer, crate::PERF_PROTO).await?;
    let mut progress = Progress {
        last: Instant::now(),
        up: 0,
        down: 0,
    };
    s.write_all(&download.to_be_bytes())
        .await
        .map_err(io_err("writing the download size"))?;
    let mut buf = vec![0u8; PERF_BLOCK];
    let mut sent: u64 = 0;
    while sent < upload {
        let n = (upload - sent).min(PERF_BLOCK as u64) as usize;
        s.write_all(&buf[..n]).await.map_err(|e| {
            Error::runtime(format!("uploading after {sent} of {upload} bytes: {e}"))
        })?;
        sent += n as u64;
        progress.add(n as u64, 0);
    }
    s.close()
        .await
        .map_err(io_err("half-closing after the upload"))?;
    let mut received: u64 = 0;
    loop {
        let n = s.read(&mut buf).await.map_err(|e| {
            Error::runtime(format!(
                "downloading after {received} of {download} bytes: {e}"
            ))
        })?;
        if n == 0 {
            break;
        }
        received += n as u64;
        progress.add(0, n as u64);
    }
    perf_line("final", start.elapsed().as_secs_f64(), sent, received);
    if received != download {
        return Err(Error::runtime(format!(
            "perf downloaded {received} bytes, requested {download}"
        )));
    }
    Ok(())
}

/// The distinct 64 KiB payload of stream `i` (ChaCha seeded with i + 1; any distinct bytes do).
fn echo_payload(i: usize) -> Vec<u8> {
    let mut payload = vec![0u8; ECHO_PAYLOAD];
    rand::rngs::StdRng::seed_from_u64(i as u64 + 1).fill_bytes(&mut payload);
    payload
}

/// Opens `count` concurrent /switchyard/echo/1.0.0 streams, each sending its own 64 KiB payload
/// and half-closing, and checks every echoed byte.
async fn client_streams(
    control: libp2p_stream::Control,
    peer: PeerId,
    count: usize,
) -> Result<(), Error> {
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let mut control = control.clone();
            tokio::spawn(async move { echo_once(&mut control, peer, i).await })
        })
        .collect();
    let mut errors = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(Error::Runtime(e) | Error::Usage(e))) => errors.push(e),
            Err(e) => errors.push(format!("echo task panicked: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(Error::runtime(errors.join("; ")));
    }
    println!("OK {count}");
    Ok(())
}

async fn echo_once(
    control: &mut libp2p_stream::Control,
    peer: PeerId,
    i: usize,
) -> Result<(), Error> {
    let s = open(control, peer, crate::ECHO_PROTO)
        .await
        .map_err(|e| match e {
            Error::Runtime(m) | Error::Usage(m) => Error::runtime(format!("stream {i}: {m}")),
        })?;
    let payload = echo_payload(i);
    let (mut r, mut w) = s.split();
    let write = async {
        w.write_all(&payload).await?;
        w.close().await
    };
    let read = async {
        let mut got = Vec::with_capacity(ECHO_PAYLOAD);
        (&mut r)
            .take(ECHO_PAYLOAD as u64 + 1)
            .read_to_end(&mut got)
            .await
            .map(|_| got)
    };
    let (written, got) = futures::join!(write, read);
    written.map_err(|e| Error::runtime(format!("stream {i}: writing the payload: {e}")))?;
    let got = got.map_err(|e| Error::runtime(format!("stream {i}: reading the echo: {e}")))?;
    if got != payload {
        let at = got
            .iter()
            .zip(payload.iter())
            .take_while(|(a, b)| a == b)
            .count();
        return Err(Error::runtime(format!(
            "stream {i}: echo differs at byte {at} (got {} bytes, sent {})",
            got.len(),
            payload.len()
        )));
    }
    Ok(())
}
