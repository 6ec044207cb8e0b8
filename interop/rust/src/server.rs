//! Hand-written inbound protocols: the nim tutorial's stream-proto, /switchyard/echo/1.0.0 and
//! /perf/1.0.0 (streams come from inbound.rs). Ping and identify are rust-libp2p behaviours.

use futures::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use libp2p::Stream;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::inbound::Inbound;

/// The tutorial server's readLp(1024) limit.
pub const MAX_STREAM_PROTO_MESSAGE: u64 = 1024;
/// "Part 0" … "Part 10".
pub const STREAM_PROTO_PARTS: usize = 11;
/// Block size used by perf for writing and reading.
pub const PERF_BLOCK: usize = 64 * 1024;

/// Runs one task per negotiated inbound stream of the hand-written protocols.
pub fn spawn_dispatcher(mut receiver: UnboundedReceiver<Inbound>) {
    tokio::spawn(async move {
        while let Some((peer, protocol, stream)) = receiver.recv().await {
            tokio::spawn(async move {
                if protocol == crate::STREAM_PROTO {
                    if let Err(e) = stream_proto(stream).await {
                        eprintln!("[server] stream-proto with {peer} failed: {e}");
                    }
                } else if protocol == crate::ECHO_PROTO {
                    if let Err(e) = echo(stream).await {
                        eprintln!("[server] echo with {peer} failed: {e}");
                    }
                } else if protocol == crate::PERF_PROTO {
                    match perf(stream).await {
                        Ok((received, sent)) => {
                            eprintln!("[server] perf: received {received} bytes, sent {sent} bytes")
                        }
                        Err(e) => eprintln!("[server] perf with {peer} failed: {e}"),
                    }
                }
            });
        }
    });
}

/// Serves one negotiated inbound stream of a hand-written protocol (bench-server counts them).
pub async fn serve_one(protocol: libp2p::StreamProtocol, stream: Stream) -> std::io::Result<()> {
    if protocol == crate::STREAM_PROTO {
        stream_proto(stream).await
    } else if protocol == crate::ECHO_PROTO {
        echo(stream).await
    } else if protocol == crate::PERF_PROTO {
        perf(stream).await.map(|_| ())
    } else {
        Ok(())
    }
}

/// Reads one uvarint (at most 9 bytes, minimal). `Ok(None)` = clean EOF before the first byte.
pub async fn read_uvarint<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<u64>> {
    let mut value: u64 = 0;
    for i in 0..9 {
        let mut b = [0u8; 1];
        if r.read(&mut b).await? == 0 {
            if i == 0 {
                return Ok(None);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        value |= u64::from(b[0] & 0x7f) << (7 * i);
        if b[0] & 0x80 == 0 {
            if b[0] == 0 && i > 0 {
                return Err(invalid("non-minimal varint"));
            }
            return Ok(Some(value));
        }
    }
    Err(invalid("varint longer than 9 bytes"))
}

/// Reads one uvarint-length-prefixed message of at most `max` bytes; `Ok(None)` at clean EOF.
pub async fn read_lp<R: AsyncRead + Unpin>(
    r: &mut R,
    max: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    let Some(len) = read_uvarint(r).await? else {
        return Ok(None);
    };
    if len > max {
        return Err(invalid(&format!(
            "message length {len} exceeds the limit of {max} bytes"
        )));
    }
    let mut msg = vec![0u8; len as usize];
    r.read_exact(&mut msg).await?;
    Ok(Some(msg))
}

/// uvarint(len(msg)) ‖ msg.
pub fn encode_lp(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 10);
    let mut n = msg.len() as u64;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(msg);
    out
}

pub fn invalid(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

/// The nim tutorial 3 server: read one LP message (≤ 1024 bytes), log it, write
/// "Part 0" … "Part 10" as LP messages, then close our side (yamux FIN).
async fn stream_proto(mut s: Stream) -> std::io::Result<()> {
    let Some(msg) = read_lp(&mut s, MAX_STREAM_PROTO_MESSAGE).await? else {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    };
    // stdout carries only the LISTEN lines, so the tutorial line goes to stderr.
    eprintln!(
        "[server] received from client: {}",
        String::from_utf8_lossy(&msg)
    );
    for i in 0..STREAM_PROTO_PARTS {
        s.write_all(&encode_lp(format!("Part {i}").as_bytes()))
            .await?;
    }
    s.close().await
}

/// Echoes every byte until EOF, then closes our side.
async fn echo(s: Stream) -> std::io::Result<()> {
    let (mut r, mut w) = s.split();
    futures::io::copy(&mut r, &mut w).await?;
    w.close().await
}

/// /perf/1.0.0 server (libp2p specs perf/perf.md): read the 8-byte big-endian download size,
/// drain the upload until EOF, then write that many bytes and close.
async fn perf(mut s: Stream) -> std::io::Result<(u64, u64)> {
    let mut header = [0u8; 8];
    s.read_exact(&mut header).await?;
    let to_send = u64::from_be_bytes(header);
    let mut buf = vec![0u8; PERF_BLOCK];
    let mut received: u64 = 0;
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        received += n as u64;
    }
    buf.fill(0);
    let mut left = to_send;
    while left > 0 {
        let n = left.min(PERF_BLOCK as u64) as usize;
        s.write_all(&buf[..n]).await?;
        left -= n as u64;
    }
    s.close().await?;
    Ok((received, to_send))
}
