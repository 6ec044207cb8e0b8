package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/multiformats/go-varint"
)

const (
	// maxStreamProtoMessage is the tutorial server's readLp(1024) limit.
	maxStreamProtoMessage = 1024
	// streamProtoParts is how many "Part i" messages the tutorial server sends (Part 0 … Part 10).
	streamProtoParts = 11
	// perfBlock is the block size perf writes and reads with (go's test-plans perf uses 64 KiB too).
	perfBlock = 64 * 1024
)

// mountHandlers registers the hand-written protocols; ping and identify are go-libp2p services
// that the host mounts itself (libp2p.Ping(true); identify always runs).
func mountHandlers(h host.Host) {
	h.SetStreamHandler(streamProtoID, handleStreamProto)
	h.SetStreamHandler(echoProtoID, handleEcho)
	h.SetStreamHandler(perfProtoID, handlePerf)
}

// readLp reads one uvarint-length-prefixed message of at most max bytes. A clean EOF before the
// first byte of the prefix is returned as io.EOF; EOF inside a message is io.ErrUnexpectedEOF.
func readLp(r *bufio.Reader, max uint64) ([]byte, error) {
	n, err := varint.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("message length %d exceeds the limit of %d bytes", n, max)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return msg, nil
}

// appendLp appends uvarint(len(msg)) ‖ msg to buf.
func appendLp(buf, msg []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(msg)))
	return append(buf, msg...)
}

// handleStreamProto is the nim tutorial 3 server: read one LP message (≤ 1024 bytes), log it,
// write "Part 0" … "Part 10" as LP messages, then close the stream (FIN).
func handleStreamProto(s network.Stream) {
	msg, err := readLp(bufio.NewReader(s), maxStreamProtoMessage)
	if err != nil {
		fmt.Fprintf(os.Stderr, "[server] stream-proto read from %s failed: %v\n", s.Conn().RemotePeer(), err)
		_ = s.Reset()
		return
	}
	// stdout carries only the LISTEN lines, so the server's tutorial line goes to stderr.
	fmt.Fprintf(os.Stderr, "[server] received from client: %s\n", msg)
	for i := 0; i < streamProtoParts; i++ {
		// One write per message, like the tutorial's writeLp loop.
		if _, err := s.Write(appendLp(nil, []byte(fmt.Sprintf("Part %d", i)))); err != nil {
			fmt.Fprintf(os.Stderr, "[server] stream-proto write failed: %v\n", err)
			_ = s.Reset()
			return
		}
	}
	_ = s.Close()
}

// handleEcho echoes every byte until EOF, then closes the stream.
func handleEcho(s network.Stream) {
	if _, err := io.Copy(s, s); err != nil {
		fmt.Fprintf(os.Stderr, "[server] echo failed: %v\n", err)
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// handlePerf is the /perf/1.0.0 server (libp2p specs perf/perf.md): read the 8-byte big-endian
// download size, drain the upload until EOF, then write that many bytes and close.
func handlePerf(s network.Stream) {
	var header [8]byte
	if _, err := io.ReadFull(s, header[:]); err != nil {
		fmt.Fprintf(os.Stderr, "[server] perf: reading the 8-byte size failed: %v\n", err)
		_ = s.Reset()
		return
	}
	toSend := binary.BigEndian.Uint64(header[:])
	buf := make([]byte, perfBlock)
	received, err := io.CopyBuffer(io.Discard, onlyReader{s}, buf)
	if err != nil {
		fmt.Fprintf(os.Stderr, "[server] perf: reading upload failed after %d bytes: %v\n", received, err)
		_ = s.Reset()
		return
	}
	clear(buf)
	if err := writeZeros(s, toSend, buf); err != nil {
		fmt.Fprintf(os.Stderr, "[server] perf: writing %d bytes failed: %v\n", toSend, err)
		_ = s.Reset()
		return
	}
	_ = s.Close()
	fmt.Fprintf(os.Stderr, "[server] perf: received %d bytes, sent %d bytes\n", received, toSend)
}

// writeZeros writes n bytes from the zeroed block buf.
func writeZeros(w io.Writer, n uint64, buf []byte) error {
	for n > 0 {
		chunk := buf
		if n < uint64(len(chunk)) {
			chunk = chunk[:n]
		}
		written, err := w.Write(chunk)
		n -= uint64(written)
		if err != nil {
			return err
		}
	}
	return nil
}

// onlyReader hides WriteTo/ReadFrom so io.CopyBuffer uses our block-sized buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
