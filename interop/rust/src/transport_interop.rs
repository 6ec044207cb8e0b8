//! `peer transport-interop`: the libp2p/test-plans transport-interop contract
//! (test-plans transport-interop/README.md "Test spec"), configured by the environment:
//! `transport` (tcp, ws, quic-v1), `muxer` (yamux; not for quic-v1), `security` (noise, tls), `is_dialer` (true/false),
//! `ip` (listen address, default 0.0.0.0), `redis_addr` (default redis:6379),
//! `test_timeout_seconds` (default 180).
//!
//! The listener RPUSHes `<multiaddr>/p2p/<id>` to the Redis list `listenerAddr` and runs until
//! the timeout (exit 1 then; the runner kills it first). The dialer BLPOPs the address, dials,
//! waits for one ping and prints `{"handshakePlusOneRTTMillis":…,"pingRTTMilllis":…}` (the
//! spelling of the spec). Diagnostics go to stderr. Redis is spoken as RESP2 by hand (a few
//! lines; no client crate).

use std::{
    io::Write as _,
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use libp2p::{ping, swarm::SwarmEvent, Multiaddr};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use crate::{args::Error, BehaviourEvent, Security, Transport};

const LISTENER_ADDR_KEY: &str = "listenerAddr";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required(name: &str) -> Result<String, Error> {
    env(name).ok_or_else(|| Error::usage(format!("environment variable {name} is required")))
}

pub async fn run() -> Result<(), Error> {
    let transport = Transport::parse(&required("transport")?)?;
    // quic-v1 brings its own TLS and streams: test-plans sets no muxer/security for it.
    let security = if transport == Transport::Quic {
        vec![Security::Noise]
    } else {
        let muxer = required("muxer")?;
        if muxer != "yamux" {
            return Err(Error::usage(format!("muxer {muxer:?} is not supported (yamux)")));
        }
        let security = Security::parse_list(Some(&required("security")?))?;
        if security.len() != 1 {
            return Err(Error::usage("security: exactly one of noise, tls"));
        }
        security
    };
    let is_dialer = match required("is_dialer")?.as_str() {
        "true" => true,
        "false" => false,
        other => return Err(Error::usage(format!("is_dialer {other:?}: true or false"))),
    };
    let ip = env("ip").unwrap_or_else(|| "0.0.0.0".to_string());
    let redis_addr = env("redis_addr").unwrap_or_else(|| "redis:6379".to_string());
    let timeout_s: u64 = match env("test_timeout_seconds") {
        None => 180,
        Some(v) => v
            .parse()
            .map_err(|_| Error::usage(format!("test_timeout_seconds {v:?}: whole seconds")))?,
    };
    let timeout = Duration::from_secs(timeout_s);

    let mut redis = Redis::connect(&redis_addr).await?;
    // The listener pings on rust-libp2p's default 15 s; the dialer's first ping goes out as
    // soon as the connection is up.
    let interval = Duration::from_secs(if is_dialer { 1 } else { 15 });
    let mut swarm = crate::build_swarm(None, &security, interval, None, false).await?;
    let local = *swarm.local_peer_id();

    if !is_dialer {
        let addr: Multiaddr = transport
            .listen_addr(&ip)
            .parse()
            .map_err(|e| Error::usage(format!("ip {ip:?}: {e}")))?;
        swarm
            .listen_on(addr.clone())
            .map_err(|e| Error::runtime(format!("listening on {addr}: {e}")))?;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut published = false;
        loop {
            tokio::select! {
                event = swarm.select_next_some() => match event {
                    // On 0.0.0.0 the swarm reports one address per interface: publish the first
                    // one another host can reach (loopback only when listening on loopback).
                    SwarmEvent::NewListenAddr { address, .. } if !published => {
                        let loopback = address.iter().any(|p| matches!(p, libp2p::multiaddr::Protocol::Ip4(a) if a.is_loopback()));
                        if loopback && !ip.starts_with("127.") {
                            continue;
                        }
                        let full = format!("{address}/p2p/{local}");
                        redis.command(&["RPUSH", LISTENER_ADDR_KEY, &full]).await?;
                        eprintln!("[transport-interop] listening on {full}");
                        published = true;
                    }
                    SwarmEvent::IncomingConnectionError { error, .. } => {
                        eprintln!("[transport-interop] incoming connection failed: {error}");
                    }
                    _ => {}
                },
                _ = &mut deadline => {
                    return Err(Error::runtime(format!("listener: test_timeout_seconds ({timeout_s} s) reached")));
                }
            }
        }
    }

    let work = async {
        let reply = redis
            .command(&["BLPOP", LISTENER_ADDR_KEY, &timeout_s.to_string()])
            .await?;
        let Some(text) = reply.into_iter().nth(1) else {
            return Err(Error::runtime(format!("no listener address in Redis within {timeout_s} s")));
        };
        let (addr, peer) = crate::parse_target(&text)?;
        let start = Instant::now();
        crate::client::connect(&mut swarm, addr, peer).await?;
        loop {
            if let SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer: p, result, .. })) =
                swarm.select_next_some().await
            {
                if p != peer {
                    continue;
                }
                let rtt = result.map_err(|e| Error::runtime(format!("ping: {e}")))?;
                let total = start.elapsed();
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "{{\"handshakePlusOneRTTMillis\":{},\"pingRTTMilllis\":{}}}",
                    total.as_secs_f64() * 1000.0,
                    rtt.as_secs_f64() * 1000.0
                );
                let _ = out.flush();
                return Ok(());
            }
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(Error::runtime(format!("dialer: test_timeout_seconds ({timeout_s} s) reached"))),
    }
}

/// One Redis connection speaking RESP2 (redis.io/docs/reference/protocol-spec): commands as
/// arrays of bulk strings; replies: simple string, error, integer, bulk string, array of bulk
/// strings (a null bulk string or null array reads as no element).
struct Redis {
    io: BufReader<tokio::net::TcpStream>,
}

impl Redis {
    async fn connect(addr: &str) -> Result<Redis, Error> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| Error::runtime(format!("connecting to Redis at {addr}: {e}")))?;
        Ok(Redis { io: BufReader::new(stream) })
    }

    async fn command(&mut self, args: &[&str]) -> Result<Vec<String>, Error> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        let io_err = |e: std::io::Error| Error::runtime(format!("Redis: {e}"));
        self.io.get_mut().write_all(&req).await.map_err(io_err)?;
        let header = self.line().await?;
        match header.split_at(1) {
            ("+", s) | (":", s) => Ok(vec![s.to_string()]),
            ("-", e) => Err(Error::runtime(format!("Redis {}: {e}", args[0]))),
            ("$", _) => Ok(self.bulk(&header).await?.into_iter().collect()),
            ("*", n) => {
                let n: i64 = n.parse().map_err(|_| Error::runtime(format!("Redis: bad reply {header:?}")))?;
                let mut items = Vec::new();
                for _ in 0..n.max(0) {
                    let h = self.line().await?;
                    items.extend(self.bulk(&h).await?);
                }
                Ok(items)
            }
            _ => Err(Error::runtime(format!("Redis: unexpected reply {header:?}"))),
        }
    }

    async fn line(&mut self) -> Result<String, Error> {
        let mut line = String::new();
        let n = self
            .io
            .read_line(&mut line)
            .await
            .map_err(|e| Error::runtime(format!("Redis: {e}")))?;
        if n == 0 || !line.ends_with("\r\n") || line.len() < 3 {
            return Err(Error::runtime("Redis closed the connection"));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    /// The body of a bulk string whose header line is `header` (`$-1` = null).
    async fn bulk(&mut self, header: &str) -> Result<Option<String>, Error> {
        let len: i64 = header
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Error::runtime(format!("Redis: expected a bulk string, got {header:?}")))?;
        if len < 0 {
            return Ok(None);
        }
        let mut body = vec![0u8; len as usize + 2];
        self.io
            .read_exact(&mut body)
            .await
            .map_err(|e| Error::runtime(format!("Redis: {e}")))?;
        body.truncate(len as usize);
        String::from_utf8(body)
            .map(Some)
            .map_err(|_| Error::runtime("Redis: reply is not UTF-8"))
    }
}
