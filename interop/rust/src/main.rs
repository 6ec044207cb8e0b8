//! rust-libp2p interop test peer for switchyard (TCP or WebSocket, Noise or TLS, yamux).
//!
//! A foreign reference implementation used only by interop tests; switchyard's src/ never
//! imports it. The command contract is shared with switchyard's CLI and with interop/go; see
//! interop/rust/README.md for the exact output formats.

mod args;
mod bench;
mod client;
mod inbound;
mod server;
mod transport_interop;

use std::{io::Write as _, process::ExitCode, time::Duration};

use futures::StreamExt as _;
use libp2p::{
    identify, identity, noise, ping,
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, tls, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};

use crate::args::{Args, Error};

/// Protocols mounted by `listen` besides ping and identify.
pub const STREAM_PROTO: StreamProtocol = StreamProtocol::new("/test/stream-proto/1.0.0");
pub const ECHO_PROTO: StreamProtocol = StreamProtocol::new("/switchyard/echo/1.0.0");
pub const PERF_PROTO: StreamProtocol = StreamProtocol::new("/perf/1.0.0");

/// Names this peer and the rust-libp2p version it is built with (Cargo.toml).
const AGENT_VERSION: &str = "switchyard-interop-rust/rust-libp2p@0.57.1";
/// identify protocolVersion (rust-libp2p makes the application choose one).
const PROTOCOL_VERSION: &str = "ipfs/0.1.0";
/// How long the listener keeps a connection without streams open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

pub const USAGE: &str = "usage:
  peer listen [--listen <multiaddr>]... [--key <file>] [--transport tcp|ws] [--security noise,tls]
  peer stream <multiaddr/p2p/id>
  peer ping <multiaddr/p2p/id> [--count N]
  peer identify <multiaddr/p2p/id>
  peer perf <multiaddr/p2p/id> --upload-bytes N --download-bytes M
  peer streams <multiaddr/p2p/id> [--count N]
  peer transport-interop   (libp2p/test-plans transport-interop; configured by the environment)
  peer bench-server [--listen <multiaddr>] [--security noise|tls]   (switchyard's bench/e2e harness)
  peer bench-client [--security noise|tls]                          (commands on stdin, see bench.rs)
client commands also take --key, --transport tcp|ws (must match the multiaddr) and --security
(comma list in preference order: noise, tls; default noise)";

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    pub ping: ping::Behaviour,
    pub identify: identify::Behaviour,
    /// Outbound streams of the hand-written protocols (client commands).
    pub stream: libp2p_stream::Behaviour,
    /// Inbound streams of the hand-written protocols (listen); see inbound.rs.
    pub inbound: inbound::Behaviour,
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    match runtime.block_on(run(raw)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Usage(msg)) => {
            eprintln!("usage error: {} (see peer --help)", one_line(&msg));
            ExitCode::from(2)
        }
        Err(Error::Runtime(msg)) => {
            eprintln!("error: {}", one_line(&msg));
            ExitCode::from(1)
        }
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

async fn run(raw: Vec<String>) -> Result<(), Error> {
    let Some((cmd, rest)) = raw.split_first() else {
        return Err(Error::usage("missing command"));
    };
    match cmd.as_str() {
        "listen" => {
            let a = Args::parse(rest, &["listen", "key", "security", "transport"])?;
            if !a.positional.is_empty() {
                return Err(Error::usage(format!(
                    "listen takes no positional arguments, got {:?}",
                    a.positional
                )));
            }
            run_listen(&a).await
        }
        "stream" | "ping" | "identify" | "perf" | "streams" => {
            let allowed: &[&str] = match cmd.as_str() {
                "ping" | "streams" => &["key", "count", "security", "transport"],
                "perf" => &["key", "upload-bytes", "download-bytes", "security", "transport"],
                _ => &["key", "security", "transport"],
            };
            let a = Args::parse(rest, allowed)?;
            if a.positional.len() != 1 {
                return Err(Error::usage(format!(
                    "{cmd} takes exactly one multiaddr with /p2p/<peerId>"
                )));
            }
            let (addr, peer) = parse_target(&a.positional[0])?;
            if let Some(t) = a.last("transport") {
                if Transport::parse(t)? != Transport::of(&addr) {
                    return Err(Error::usage(format!("--transport {t} does not match {addr}")));
                }
            }
            client::run(cmd, &a, addr, peer).await
        }
        "bench-server" | "bench-client" => {
            let a = Args::parse(rest, &["listen", "security"])?;
            bench::run(cmd, &a).await
        }
        "transport-interop" => {
            if !rest.is_empty() {
                return Err(Error::usage("transport-interop takes no arguments (it reads its environment)"));
            }
            transport_interop::run().await
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(Error::usage(format!("unknown command {other:?}"))),
    }
}

/// Parses a multiaddr that ends with /p2p/<peerId>.
fn parse_target(s: &str) -> Result<(Multiaddr, PeerId), Error> {
    let addr: Multiaddr = s
        .parse()
        .map_err(|e| Error::usage(format!("invalid multiaddr {s:?}: {e}")))?;
    match addr.iter().last() {
        Some(libp2p::multiaddr::Protocol::P2p(peer)) => Ok((addr, peer)),
        _ => Err(Error::usage(format!(
            "multiaddr {s:?} must end with /p2p/<peerId>"
        ))),
    }
}

/// Reads a protobuf-encoded libp2p PrivateKey; a missing file is created with a fresh key of
/// rust-libp2p's default type (Ed25519). No path means a fresh key.
fn load_key(path: Option<&str>) -> Result<identity::Keypair, Error> {
    let Some(path) = path else {
        return Ok(identity::Keypair::generate_ed25519());
    };
    match std::fs::read(path) {
        Ok(bytes) => identity::Keypair::from_protobuf_encoding(&bytes).map_err(|e| {
            Error::runtime(format!(
                "key file {path} is not a protobuf libp2p PrivateKey: {e}"
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = identity::Keypair::generate_ed25519();
            let encoded = key
                .to_protobuf_encoding()
                .map_err(|e| Error::runtime(format!("encoding the new key: {e}")))?;
            write_private(path, &encoded)
                .map_err(|e| Error::runtime(format!("writing key file {path}: {e}")))?;
            Ok(key)
        }
        Err(e) => Err(Error::runtime(format!("reading key file {path}: {e}"))),
    }
}

fn write_private(path: &str, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

/// A security protocol of the connection upgrade (`--security`, comma list, preference order).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Security {
    Noise,
    Tls,
}

impl Security {
    /// Parses `noise`, `tls`, `tls,noise`, `noise,tls`; absent = Noise only.
    pub fn parse_list(s: Option<&str>) -> Result<Vec<Security>, Error> {
        let Some(s) = s else {
            return Ok(vec![Security::Noise]);
        };
        let mut list = Vec::new();
        for name in s.split(',') {
            let sec = match name {
                "noise" => Security::Noise,
                "tls" => Security::Tls,
                _ => return Err(Error::usage(format!("--security: unknown security {name:?} (noise, tls)"))),
            };
            if list.contains(&sec) {
                return Err(Error::usage(format!("--security: {name} named twice")));
            }
            list.push(sec);
        }
        Ok(list)
    }
}

/// The transport of the listen address (`--transport`): plain TCP, WebSocket over TCP, or QUIC v1
/// (libp2p-quic on quinn; TLS 1.3 and stream multiplexing are QUIC's own, `--security` does not apply).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    Tcp,
    Ws,
    Quic,
}

impl Transport {
    pub fn parse(s: &str) -> Result<Transport, Error> {
        match s {
            "tcp" => Ok(Transport::Tcp),
            "ws" => Ok(Transport::Ws),
            "quic" | "quic-v1" => Ok(Transport::Quic),
            _ => Err(Error::usage(format!("--transport: unknown transport {s:?} (tcp, ws, quic)"))),
        }
    }

    pub fn of(addr: &Multiaddr) -> Transport {
        if addr.iter().any(|p| matches!(p, libp2p::multiaddr::Protocol::QuicV1)) {
            Transport::Quic
        } else if addr.iter().any(|p| matches!(p, libp2p::multiaddr::Protocol::Ws(_))) {
            Transport::Ws
        } else {
            Transport::Tcp
        }
    }

    /// The loopback listen address with an OS-chosen port.
    pub fn listen_addr(self, ip: &str) -> String {
        match self {
            Transport::Tcp => format!("/ip4/{ip}/tcp/0"),
            Transport::Ws => format!("/ip4/{ip}/tcp/0/ws"),
            Transport::Quic => format!("/ip4/{ip}/udp/0/quic-v1"),
        }
    }
}

fn behaviour(
    key: &identity::Keypair,
    ping_interval: Duration,
    inbound: Option<tokio::sync::mpsc::UnboundedSender<inbound::Inbound>>,
) -> Behaviour {
    Behaviour {
        ping: ping::Behaviour::new(ping::Config::new().with_interval(ping_interval)),
        identify: identify::Behaviour::new(
            identify::Config::new(PROTOCOL_VERSION.to_string(), key.public())
                .with_agent_version(AGENT_VERSION.to_string()),
        ),
        stream: libp2p_stream::Behaviour::new(),
        inbound: match inbound {
            Some(sender) => inbound::Behaviour::new(vec![STREAM_PROTO, ECHO_PROTO, PERF_PROTO], sender),
            None => inbound::Behaviour::disabled(),
        },
    }
}

/// Builds the swarm: TCP and WebSocket-over-TCP transports (the multiaddr picks one), each
/// upgraded with the security protocols in `security` order (multistream-select proposes them
/// in that order as dialer, accepts any of them as listener), then yamux; and QUIC v1 (quinn,
/// default libp2p-quic config: its own TLS 1.3 and streams).
macro_rules! build_with_security {
    ($key:expr, $security:expr, $ping_interval:expr, $inbound:expr, $bench:expr) => {{
        let inbound = $inbound;
        let bench: bool = $bench;
        let muxer = move || {
            let mut c = yamux::Config::default();
            if bench {
                c.set_max_num_streams(BENCH_YAMUX_STREAMS);
            }
            c
        };
        libp2p::SwarmBuilder::with_existing_identity($key)
            .with_tokio()
            .with_tcp(tcp::Config::default().nodelay(true), $security, muxer)
            .map_err(|e| Error::runtime(format!("building the TCP transport: {e}")))?
            .with_quic()
            // from the QUIC phase, with_websocket would skip QUIC; the DNS phase keeps it (and
            // resolves /dns addresses, which the peers never use)
            .with_dns()
            .map_err(|e| Error::runtime(format!("building the DNS resolver: {e}")))?
            .with_websocket($security, muxer)
            .await
            .map_err(|e| Error::runtime(format!("building the WebSocket transport: {e}")))?
            .with_behaviour(|key| behaviour(key, $ping_interval, inbound))
            .map_err(|e| Error::runtime(format!("building the behaviour: {e}")))?
            .with_swarm_config(|c| if bench {
                c.with_idle_connection_timeout(BENCH_IDLE_TIMEOUT)
                    .with_max_negotiating_inbound_streams(BENCH_MAX_STREAMS)
            } else {
                c.with_idle_connection_timeout(IDLE_TIMEOUT)
            })
            .build()
    }};
}

/// `bench` (bench-server, bench-client): connections never idle out and the stream limits the
/// e2e workloads need (1000 concurrent streams) are raised; everything else stays as it is.
const BENCH_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
/// The swarm's negotiating-inbound limit (128 by default).
const BENCH_MAX_STREAMS: usize = 4096;
/// yamux's max_num_streams (512 by default): 2048, not more. rust-yamux guarantees every possible
/// stream 256 KiB out of the connection's 1 GiB receive window and lets a stream's window grow only
/// into the rest, so 4096 streams would pin each stream at 256 KiB (one stream on a 50 ms link:
/// ~5 MiB/s), and libp2p-yamux 0.48 does not expose the connection window to raise it.
const BENCH_YAMUX_STREAMS: usize = 2048;

/// `inbound` receives the negotiated inbound streams of the hand-written protocols (listen only).
pub async fn build_swarm(
    key_path: Option<&str>,
    security: &[Security],
    ping_interval: Duration,
    inbound: Option<tokio::sync::mpsc::UnboundedSender<inbound::Inbound>>,
    bench: bool,
) -> Result<Swarm<Behaviour>, Error> {
    let key = load_key(key_path)?;
    let swarm = match security {
        [Security::Noise] => build_with_security!(key, noise::Config::new, ping_interval, inbound, bench),
        [Security::Tls] => build_with_security!(key, tls::Config::new, ping_interval, inbound, bench),
        [Security::Tls, Security::Noise] => {
            build_with_security!(key, (tls::Config::new, noise::Config::new), ping_interval, inbound, bench)
        }
        [Security::Noise, Security::Tls] => {
            build_with_security!(key, (noise::Config::new, tls::Config::new), ping_interval, inbound, bench)
        }
        _ => return Err(Error::usage("--security needs one or two of noise, tls")),
    };
    Ok(swarm)
}

async fn run_listen(a: &Args) -> Result<(), Error> {
    let mut listen: Vec<Multiaddr> = Vec::new();
    for s in a.all("listen") {
        listen.push(
            s.parse()
                .map_err(|e| Error::usage(format!("invalid --listen multiaddr {s:?}: {e}")))?,
        );
    }
    let transport = match a.last("transport") {
        Some(t) => Transport::parse(t)?,
        None => Transport::Tcp,
    };
    if listen.is_empty() {
        listen.push(transport.listen_addr("127.0.0.1").parse().expect("valid multiaddr"));
    }
    let security = Security::parse_list(a.last("security"))?;
    // rust-libp2p's default ping interval (15 s): the listener pings its peers like any node.
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let mut swarm = build_swarm(a.last("key"), &security, Duration::from_secs(15), Some(sender), false).await?;
    server::spawn_dispatcher(receiver);
    for addr in &listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| Error::runtime(format!("listening on {addr}: {e}")))?;
    }
    let local = *swarm.local_peer_id();

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::runtime(format!("installing the SIGTERM handler: {e}")))?;
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } => {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "LISTEN {address}/p2p/{local}");
                    let _ = out.flush();
                }
                SwarmEvent::ListenerError { error, .. } => {
                    eprintln!("[listen] listener error: {error}");
                }
                SwarmEvent::ListenerClosed { addresses, reason, .. } => {
                    if let Err(e) = reason {
                        return Err(Error::runtime(format!("listener on {addresses:?} closed: {e}")));
                    }
                }
                SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                    eprintln!("[listen] connection from {peer_id} at {}", endpoint.get_remote_address());
                }
                SwarmEvent::ConnectionClosed { peer_id, cause, .. } => {
                    eprintln!("[listen] connection to {peer_id} closed: {cause:?}");
                }
                SwarmEvent::IncomingConnectionError { error, .. } => {
                    eprintln!("[listen] incoming connection failed: {error}");
                }
                SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Error { peer_id, error, .. })) => {
                    eprintln!("[listen] identify with {peer_id} failed: {error}");
                }
                SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, result: Err(e), .. })) => {
                    eprintln!("[listen] ping to {peer} failed: {e}");
                }
                _ => {}
            },
            _ = tokio::signal::ctrl_c() => {
                eprintln!("[listen] SIGINT received, shutting down");
                return Ok(());
            }
            _ = sigterm.recv() => {
                eprintln!("[listen] SIGTERM received, shutting down");
                return Ok(());
            }
        }
    }
}
