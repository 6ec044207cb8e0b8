//! Bench mode: rust-libp2p as a column of switchyard's end-to-end benchmark (bench/e2e in the
//! repository). `peer bench-server` listens and serves perf and echo (server.rs) and ping (the
//! ping behaviour); `peer bench-client` runs the same workloads as bench/e2e/workloads.ts inside
//! this process, timed by this process's clock.
//!
//! Control channel (bench/e2e/impl-foreign.ts drives it):
//!   stdout, first line   {"ready":{"pid":N,"impl":"rust-libp2p"[,"addr":"<multiaddr>/p2p/<id>"]}}
//!   stdin, one per line  <id> <command> [<name>=<value>]...   (values never contain spaces)
//!   stdout, one per line {"id":<id>,"result":<json>} or {"id":<id>,"error":"<text>"}
//! The process exits when stdin closes. Commands run concurrently, one task each.
//!
//! The swarms are the interop peer's (TCP or WebSocket, Noise or TLS, yamux, ping and identify
//! behaviours) with the idle-connection timeout lifted so idle connections stay open. A swarm
//! keeps several connections to one peer only when asked (`PeerCondition::Always`), and
//! libp2p-stream picks any connection to the peer, so the client keeps one swarm per role: the
//! long-lived connection (bulk, echo, ping, many), setup dials, idle connections, open streams.

use std::{
    collections::HashMap,
    io::{BufRead as _, Write as _},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{
    swarm::{
        dial_opts::{DialOpts, PeerCondition},
        ConnectionId, SwarmEvent,
    },
    Multiaddr, PeerId, Stream, StreamProtocol, Swarm,
};
use rand::RngCore as _;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::{
    args::{Args, Error},
    Behaviour, Security,
};

/// The client pings only once per connection (rust-libp2p's ping behaviour pings on connect).
const BENCH_PING_INTERVAL: Duration = Duration::from_secs(3600);
const PING_PROTO: StreamProtocol = StreamProtocol::new("/ipfs/ping/1.0.0");
const BLOCK: usize = 64 * 1024;

type Command = (u64, String, HashMap<String, String>);

/// Reads `<id> <command> [k=v]...` lines from stdin on a thread of its own; the channel closes
/// with stdin.
fn commands() -> mpsc::UnboundedReceiver<Command> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let mut words = line.split_whitespace();
            let (Some(id), Some(cmd)) = (words.next(), words.next()) else { continue };
            let Ok(id) = id.parse::<u64>() else { continue };
            let args = words
                .filter_map(|w| w.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                .collect();
            if tx.send((id, cmd.to_string(), args)).is_err() {
                break;
            }
        }
    });
    rx
}

fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn reply(id: u64, result: Result<String, String>) {
    match result {
        Ok(json) => print_line(&format!("{{\"id\":{id},\"result\":{json}}}")),
        Err(e) => print_line(&format!(
            "{{\"id\":{id},\"error\":{}}}",
            crate::client::json_string(&e)
        )),
    }
}

/// CPU time of this process in ms: the sum of every thread's run time (/proc/self/task/*/schedstat,
/// nanoseconds; tokio's worker threads live as long as the process).
fn cpu_ms() -> Result<String, String> {
    let mut ns: u64 = 0;
    let tasks = std::fs::read_dir("/proc/self/task").map_err(|e| e.to_string())?;
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            ns += s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Ok(format!("{}", ns as f64 / 1e6))
}

/// RSS from /proc/self/statm; rust has no heap figure to give (`heapUsed` -1 = unknown).
fn mem() -> Result<String, String> {
    let statm = std::fs::read_to_string("/proc/self/statm").map_err(|e| e.to_string())?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("unexpected /proc/self/statm {statm:?}"))?;
    Ok(format!("{{\"rss\":{},\"heapUsed\":-1,\"external\":0}}", pages * 4096))
}

fn num(a: &HashMap<String, String>, k: &str) -> Result<u64, String> {
    a.get(k)
        .ok_or_else(|| format!("missing {k}="))?
        .parse()
        .map_err(|_| format!("{k}= is not an integer"))
}

fn target(a: &HashMap<String, String>) -> Result<(Multiaddr, PeerId), String> {
    let s = a.get("addr").ok_or("missing addr=")?;
    crate::parse_target(s).map_err(|e| match e {
        Error::Usage(m) | Error::Runtime(m) => m,
    })
}

fn err_string(e: Error) -> String {
    match e {
        Error::Usage(m) | Error::Runtime(m) => m,
    }
}

pub async fn run(cmd: &str, a: &Args) -> Result<(), Error> {
    let security = Security::parse_list(a.last("security"))?;
    if cmd == "bench-server" {
        let listen: Multiaddr = a
            .last("listen")
            .unwrap_or("/ip4/127.0.0.1/tcp/0")
            .parse()
            .map_err(|e| Error::usage(format!("invalid --listen multiaddr: {e}")))?;
        server(&security, listen).await
    } else {
        client(security).await
    }
}

// ───────────────────────── server ─────────────────────────

async fn server(security: &[Security], listen: Multiaddr) -> Result<(), Error> {
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let mut swarm = crate::build_swarm(
        None,
        security,
        Duration::from_secs(15),
        Some(sender),
        true,
    )
    .await?;
    // One task per inbound perf/echo stream (server.rs), counted while it runs.
    let open = Arc::new(AtomicUsize::new(0));
    let counter = open.clone();
    tokio::spawn(async move {
        while let Some((_peer, protocol, stream)) = receiver.recv().await {
            let counter = counter.clone();
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let _ = crate::server::serve_one(protocol, stream).await;
                counter.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
    swarm
        .listen_on(listen.clone())
        .map_err(|e| Error::runtime(format!("listening on {listen}: {e}")))?;
    let local = *swarm.local_peer_id();
    let mut cmds = commands();
    let mut ready = false;
    loop {
        tokio::select! {
            event = swarm.select_next_some() => {
                if let SwarmEvent::NewListenAddr { address, .. } = event {
                    if !ready {
                        ready = true;
                        print_line(&format!(
                            "{{\"ready\":{{\"pid\":{},\"impl\":\"rust-libp2p\",\"addr\":\"{address}/p2p/{local}\"}}}}",
                            std::process::id()
                        ));
                    }
                }
            }
            cmd = cmds.recv() => {
                let Some((id, cmd, _)) = cmd else { return Ok(()) };
                let result = match cmd.as_str() {
                    "cpu" => cpu_ms(),
                    "mem" => mem(),
                    "stats" => Ok(format!(
                        "{{\"connections\":{},\"streams\":{}}}",
                        swarm.network_info().connection_counters().num_established(),
                        open.load(Ordering::Relaxed)
                    )),
                    other => Err(format!("unknown command {other}")),
                };
                reply(id, result);
            }
        }
    }
}

// ───────────────────────── client ─────────────────────────

enum Request {
    Dial(Multiaddr, PeerId, oneshot::Sender<Result<ConnectionId, String>>),
    Close(ConnectionId, oneshot::Sender<()>),
}

/// One swarm, driven by a task of its own; dials and closes go through `requests`, streams
/// through libp2p-stream's `control`.
#[derive(Clone)]
struct Node {
    requests: mpsc::UnboundedSender<Request>,
    control: libp2p_stream::Control,
}

impl Node {
    async fn new(security: &[Security]) -> Result<Node, String> {
        let swarm = crate::build_swarm(None, security, BENCH_PING_INTERVAL, None, true)
            .await
            .map_err(err_string)?;
        let control = swarm.behaviour().stream.new_control();
        let (requests, rx) = mpsc::unbounded_channel();
        tokio::spawn(drive(swarm, rx));
        Ok(Node { requests, control })
    }

    /// A new connection to `peer`, even when one is open already.
    async fn dial(&self, addr: &Multiaddr, peer: PeerId) -> Result<ConnectionId, String> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Dial(addr.clone(), peer, tx))
            .map_err(|_| "swarm task gone".to_string())?;
        rx.await.map_err(|_| "swarm task gone".to_string())?
    }

    /// Closes one connection and waits until the swarm has let go of it.
    async fn close(&self, id: ConnectionId) {
        let (tx, rx) = oneshot::channel();
        if self.requests.send(Request::Close(id, tx)).is_ok() {
            let _ = rx.await;
        }
    }

    async fn open(&self, peer: PeerId, protocol: StreamProtocol) -> Result<Stream, String> {
        self.control
            .clone()
            .open_stream(peer, protocol.clone())
            .await
            .map_err(|e| format!("opening {protocol}: {e}"))
    }
}

async fn drive(mut swarm: Swarm<Behaviour>, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut dialing: HashMap<ConnectionId, oneshot::Sender<Result<ConnectionId, String>>> = HashMap::new();
    let mut closing: HashMap<ConnectionId, oneshot::Sender<()>> = HashMap::new();
    loop {
        tokio::select! {
            req = rx.recv() => match req {
                None => return,
                Some(Request::Dial(addr, peer, tx)) => {
                    let opts = DialOpts::peer_id(peer)
                        .condition(PeerCondition::Always)
                        .addresses(vec![addr])
                        .build();
                    let id = opts.connection_id();
                    match swarm.dial(opts) {
                        Ok(()) => { dialing.insert(id, tx); }
                        Err(e) => { let _ = tx.send(Err(e.to_string())); }
                    }
                }
                Some(Request::Close(id, tx)) => {
                    if swarm.close_connection(id) {
                        closing.insert(id, tx);
                    } else {
                        let _ = tx.send(());
                    }
                }
            },
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { connection_id, .. } => {
                    if let Some(tx) = dialing.remove(&connection_id) { let _ = tx.send(Ok(connection_id)); }
                }
                SwarmEvent::OutgoingConnectionError { connection_id, error, .. } => {
                    if let Some(tx) = dialing.remove(&connection_id) { let _ = tx.send(Err(error.to_string())); }
                }
                SwarmEvent::ConnectionClosed { connection_id, .. } => {
                    if let Some(tx) = closing.remove(&connection_id) { let _ = tx.send(()); }
                }
                _ => {}
            }
        }
    }
}

struct Client {
    security: Vec<Security>,
    main: Mutex<Option<(Node, PeerId)>>,
    dialer: Mutex<Option<Node>>,
    held: Mutex<Vec<(Node, ConnectionId)>>,
    streams: Mutex<Option<(Node, ConnectionId, Vec<Stream>)>>,
}

fn ms(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}

fn json_list(v: &[f64]) -> String {
    format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","))
}

async fn read_exact(s: &mut Stream, buf: &mut [u8]) -> Result<(), String> {
    s.read_exact(buf).await.map_err(|e| format!("reading: {e}"))
}

async fn echo_round(s: &mut Stream, payload: &[u8], buf: &mut [u8]) -> Result<(), String> {
    s.write_all(payload).await.map_err(|e| format!("writing: {e}"))?;
    s.flush().await.map_err(|e| format!("writing: {e}"))?;
    read_exact(s, &mut buf[..payload.len()]).await
}

/// Half-close, read to EOF (returns how many bytes came), release.
async fn finish(mut s: Stream) -> Result<u64, String> {
    s.close().await.map_err(|e| format!("closing: {e}"))?;
    let mut buf = vec![0u8; BLOCK];
    let mut got = 0u64;
    loop {
        let n = s.read(&mut buf).await.map_err(|e| format!("reading to EOF: {e}"))?;
        if n == 0 {
            return Ok(got);
        }
        got += n as u64;
    }
}

impl Client {
    /// The long-lived connection bulk, echo, ping and many run on.
    async fn main(&self, addr: &Multiaddr, peer: PeerId) -> Result<Node, String> {
        let mut m = self.main.lock().await;
        if let Some((node, p)) = m.as_ref() {
            if *p == peer {
                return Ok(node.clone());
            }
        }
        let node = Node::new(&self.security).await?;
        node.dial(addr, peer).await?;
        *m = Some((node.clone(), peer));
        Ok(node)
    }

    async fn bulk(&self, a: &HashMap<String, String>) -> Result<String, String> {
        let (addr, peer) = target(a)?;
        let (up, down, n) = (num(a, "up")?, num(a, "down")?, num(a, "streams")?);
        let node = self.main(&addr, peer).await?;
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let node = node.clone();
                tokio::spawn(async move { perf_stream(&node, peer, up / n, down / n).await })
            })
            .collect();
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        Ok(ms(t0).to_string())
    }

    async fn setup(&self, a: &HashMap<String, String>) -> Result<String, String> {
        let (addr, peer) = target(a)?;
        let n = num(a, "n")?;
        let node = {
            let mut d = self.dialer.lock().await;
            if d.is_none() {
                *d = Some(Node::new(&self.security).await?);
            }
            d.as_ref().cloned().ok_or("no dialer")?
        };
        let mut out = Vec::new();
        let mut buf = [0u8; 1];
        for _ in 0..n {
            let t0 = Instant::now();
            let id = node.dial(&addr, peer).await?;
            let mut s = node.open(peer, crate::ECHO_PROTO).await?;
            echo_round(&mut s, &[0x2a], &mut buf).await?;
            out.push(ms(t0));
            finish(s).await?;
            node.close(id).await;
        }
        Ok(json_list(&out))
    }

    async fn echo(&self, a: &HashMap<String, String>) -> Result<String, String> {
        let (addr, peer) = target(a)?;
        let (n, size) = (num(a, "n")?, num(a, "size")? as usize);
        let node = self.main(&addr, peer).await?;
        let mut s = node.open(peer, crate::ECHO_PROTO).await?;
        let payload = vec![0x2au8; size];
        let mut buf = vec![0u8; size];
        echo_round(&mut s, &payload, &mut buf).await?; // negotiation outside the samples
        let mut out = Vec::new();
        for _ in 0..n {
            let t0 = Instant::now();
            echo_round(&mut s, &payload, &mut buf).await?;
            out.push(ms(t0));
        }
        finish(s).await?;
        Ok(json_list(&out))
    }

    /// Each ping on a new /ipfs/ping/1.0.0 stream (opened with libp2p-stream; the server's ping
    /// behaviour answers): 32 random bytes there and back, then FIN.
    async fn ping(&self, a: &HashMap<String, String>) -> Result<String, String> {
        let (addr, peer) = target(a)?;
        let n = num(a, "n")?;
        let node = self.main(&addr, peer).await?;
        let mut payload = [0u8; 32];
        let mut buf = [0u8; 32];
        let mut out = Vec::new();
        for _ in 0..n {
            rand::thread_rng().fill_bytes(&mut payload);
            let t0 = Instant::now();
            let mut s = node.open(peer, PING_PROTO).await?;
            echo_round(&mut s, &payload, &mut buf).await?;
            out.push(ms(t0));
            if buf != payload {
                return Err("ping: the answer differs".into());
            }
            finish(s).await?;
        }
        Ok(json_list(&out))
    }

    async fn many(&self, a: &HashMap<String, String>) -> Result<String, String> {
        let (addr, peer) = target(a)?;
        let (n, size) = (num(a, "n")?, num(a, "size")?);
        let node = self.main(&addr, peer).await?;
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let node = node.clone();
                tokio::spawn(async move {
                    let mut s = node.open(peer, crate::ECHO_PROTO).await?;
                    s.write_all(&vec![7u8; size as usize]).await.map_err(|e| e.to_string())?;
                    let got = finish(s).await?;
                    if got != size {
                        return Err(format!("echo: expected {size} bytes, got {got}"));
                    }
                    Ok::<(), String>(())
                })
            })
            .collect();
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        Ok(ms(t0).to_string())
    }

    async fn open_conns(&self, a: &HashMap<String, String>) -> Result<String, String> {
        let (addr, peer) = target(a)?;
        let n = num(a, "n")?;
        let mut held = self.held.lock().await;
        let node = match held.first() {
            Some((node, _)) => node.clone(),
            None => Node::new(&self.security).await?,
        };
        for _ in 0..n {
            let id = node.dial(&addr, peer).await?;
            held.push((node.clone(), id));
        }
        Ok(held.len().to_string())
    }

    async fn close_conns(&self) -> Result<String, String> {
        let held = std::mem::take(&mut *self.held.lock().await);
        for (node, id) in &held {
            node.close(*id).await;
        }
        Ok(held.len().to_string())
    }

    async fn open_streams(&self, a: &HashMap<String, String>) -> Result<String, String> {
        let (addr, peer) = target(a)?;
        let n = num(a, "n")?;
        let node = Node::new(&self.security).await?;
        let id = node.dial(&addr, peer).await?;
        let mut streams = Vec::new();
        let mut buf = [0u8; 1];
        for _ in 0..n {
            let mut s = node.open(peer, crate::ECHO_PROTO).await?;
            echo_round(&mut s, &[1], &mut buf).await?;
            streams.push(s);
        }
        let count = streams.len();
        *self.streams.lock().await = Some((node, id, streams));
        Ok(count.to_string())
    }

    async fn close_streams(&self) -> Result<String, String> {
        let Some((node, id, streams)) = self.streams.lock().await.take() else {
            return Ok("0".into());
        };
        let count = streams.len();
        for s in streams {
            let _ = finish(s).await;
        }
        node.close(id).await;
        Ok(count.to_string())
    }
}

/// The perf.md client: header, upload, FIN, then the whole download.
async fn perf_stream(node: &Node, peer: PeerId, up: u64, down: u64) -> Result<(), String> {
    let mut s = node.open(peer, crate::PERF_PROTO).await?;
    s.write_all(&down.to_be_bytes()).await.map_err(|e| e.to_string())?;
    let block = vec![0u8; BLOCK];
    let mut left = up;
    while left > 0 {
        let n = left.min(BLOCK as u64) as usize;
        s.write_all(&block[..n]).await.map_err(|e| format!("uploading: {e}"))?;
        left -= n as u64;
    }
    let got = finish(s).await?;
    if got != down {
        return Err(format!("perf: expected {down} bytes back, got {got}"));
    }
    Ok(())
}

async fn client(security: Vec<Security>) -> Result<(), Error> {
    let client = Arc::new(Client {
        security,
        main: Mutex::new(None),
        dialer: Mutex::new(None),
        held: Mutex::new(Vec::new()),
        streams: Mutex::new(None),
    });
    print_line(&format!(
        "{{\"ready\":{{\"pid\":{},\"impl\":\"rust-libp2p\"}}}}",
        std::process::id()
    ));
    let mut cmds = commands();
    while let Some((id, cmd, a)) = cmds.recv().await {
        let c = client.clone();
        tokio::spawn(async move {
            let result = match cmd.as_str() {
                "cpu" => cpu_ms(),
                "mem" => mem(),
                "bulk" => c.bulk(&a).await,
                "setup" => c.setup(&a).await,
                "echo" => c.echo(&a).await,
                "ping" => c.ping(&a).await,
                "many" => c.many(&a).await,
                "openConns" => c.open_conns(&a).await,
                "closeConns" => c.close_conns().await,
                "openStreams" => c.open_streams(&a).await,
                "closeStreams" => c.close_streams().await,
                other => Err(format!("unknown command {other}")),
            };
            reply(id, result);
        });
    }
    Ok(())
}
