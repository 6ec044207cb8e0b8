package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify/pb"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-msgio/pbio"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"
)

const (
	// commandTimeout bounds every client command except perf.
	commandTimeout = 60 * time.Second
	// perfTimeout bounds a perf run.
	perfTimeout = 10 * time.Minute
	// echoPayload is the size of each /switchyard/echo/1.0.0 payload in `streams`.
	echoPayload = 64 * 1024
	// identifyMaxMessage matches go-libp2p's identify read limit (signedIDSize).
	identifyMaxMessage = 8 * 1024
	// identifyMaxParts matches go-libp2p's identify maxMessages.
	identifyMaxParts = 10
)

// connect dials the target and opens one stream for protocol, bounded by timeout.
func connect(ctx context.Context, h host.Host, target *peer.AddrInfo, timeout time.Duration) (context.Context, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	if err := h.Connect(ctx, *target); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("connecting to %s: %w", target, err)
	}
	return ctx, cancel, nil
}

func openStream(ctx context.Context, h host.Host, target *peer.AddrInfo, pid string) (network.Stream, error) {
	s, err := h.NewStream(ctx, target.ID, protocol.ID(pid))
	if err != nil {
		return nil, fmt.Errorf("opening %s stream to %s: %w", pid, target.ID, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(deadline)
	}
	return s, nil
}

// clientStream is the nim tutorial 3 client: send "please send data" as one LP message, then
// print every LP message until the server closes its side.
func clientStream(ctx context.Context, h host.Host, target *peer.AddrInfo) error {
	ctx, cancel, err := connect(ctx, h, target, commandTimeout)
	if err != nil {
		return err
	}
	defer cancel()
	s, err := openStream(ctx, h, target, streamProtoID)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Write(appendLp(nil, []byte("please send data"))); err != nil {
		return fmt.Errorf("writing the request: %w", err)
	}
	r := bufio.NewReader(s)
	for {
		msg, err := readLp(r, maxStreamProtoMessage)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading a stream-proto message: %w", err)
		}
		fmt.Printf("[client] received from server: %s\n", msg)
	}
}

// clientPing uses go-libp2p's ping service: count pings on one /ipfs/ping/1.0.0 stream.
// The service resets the stream when its context ends (go behaviour, not a half-close).
func clientPing(ctx context.Context, h host.Host, target *peer.AddrInfo, count uint64) error {
	ctx, cancel, err := connect(ctx, h, target, commandTimeout)
	if err != nil {
		return err
	}
	defer cancel()
	results := ping.Ping(ctx, h, target.ID)
	for i := uint64(0); i < count; i++ {
		res, ok := <-results
		if !ok {
			return fmt.Errorf("ping stream ended after %d of %d pings", i, count)
		}
		if res.Error != nil {
			return fmt.Errorf("ping %d: %w", i+1, res.Error)
		}
		fmt.Printf("RTT %.3f ms\n", float64(res.RTT.Nanoseconds())/1e6)
	}
	return nil
}

// identifyResult is printed as one JSON object; absent optional fields are null.
type identifyResult struct {
	PeerID          string   `json:"peerId"`
	ProtocolVersion *string  `json:"protocolVersion"`
	AgentVersion    *string  `json:"agentVersion"`
	ListenAddrs     []string `json:"listenAddrs"`
	Protocols       []string `json:"protocols"`
	ObservedAddr    *string  `json:"observedAddr"`
}

// clientIdentify opens its own /ipfs/id/1.0.0 stream (besides the one go-libp2p runs on every
// connection) so that it prints exactly what the remote sent.
func clientIdentify(ctx context.Context, h host.Host, target *peer.AddrInfo) error {
	ctx, cancel, err := connect(ctx, h, target, commandTimeout)
	if err != nil {
		return err
	}
	defer cancel()
	s, err := openStream(ctx, h, target, string(identify.ID))
	if err != nil {
		return err
	}
	defer s.Close()
	msg := &pb.Identify{}
	r := pbio.NewDelimitedReader(s, identifyMaxMessage)
	parts := 0
	for {
		part := &pb.Identify{}
		err := r.ReadMsg(part)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading identify message %d: %w", parts+1, err)
		}
		parts++
		if parts > identifyMaxParts {
			return fmt.Errorf("identify response has more than %d messages", identifyMaxParts)
		}
		proto.Merge(msg, part)
	}
	if parts == 0 {
		return errors.New("identify stream closed without a message")
	}

	res := identifyResult{
		PeerID:          target.ID.String(),
		ProtocolVersion: msg.ProtocolVersion,
		AgentVersion:    msg.AgentVersion,
		ListenAddrs:     []string{},
		Protocols:       append([]string{}, msg.Protocols...),
	}
	if msg.PublicKey != nil {
		pub, err := crypto.UnmarshalPublicKey(msg.PublicKey)
		if err != nil {
			return fmt.Errorf("identify publicKey: %w", err)
		}
		id, err := peer.IDFromPublicKey(pub)
		if err != nil {
			return fmt.Errorf("identify publicKey: %w", err)
		}
		if id != target.ID {
			return fmt.Errorf("identify publicKey is peer %s, expected %s", id, target.ID)
		}
		res.PeerID = id.String()
	}
	for i, raw := range msg.ListenAddrs {
		addr, err := ma.NewMultiaddrBytes(raw)
		if err != nil {
			return fmt.Errorf("identify listenAddrs[%d] %x: %w", i, raw, err)
		}
		res.ListenAddrs = append(res.ListenAddrs, addr.String())
	}
	if msg.ObservedAddr != nil {
		addr, err := ma.NewMultiaddrBytes(msg.ObservedAddr)
		if err != nil {
			return fmt.Errorf("identify observedAddr %x: %w", msg.ObservedAddr, err)
		}
		s := addr.String()
		res.ObservedAddr = &s
	}
	out, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// perfLine is one JSON line of perf output (test-plans perf format).
type perfLine struct {
	Type          string  `json:"type"`
	TimeSeconds   float64 `json:"timeSeconds"`
	UploadBytes   uint64  `json:"uploadBytes"`
	DownloadBytes uint64  `json:"downloadBytes"`
}

func printJSON(v any) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

// perfProgress prints an "intermediary" line at most once per second.
type perfProgress struct {
	last     time.Time
	up, down uint64
}

func (p *perfProgress) add(up, down uint64) {
	p.up += up
	p.down += down
	if elapsed := time.Since(p.last); elapsed >= time.Second {
		printJSON(perfLine{Type: "intermediary", TimeSeconds: elapsed.Seconds(), UploadBytes: p.up, DownloadBytes: p.down})
		p.last, p.up, p.down = time.Now(), 0, 0
	}
}

// clientPerf runs /perf/1.0.0 (libp2p specs perf/perf.md). The final timeSeconds covers
// connection establishment plus the transfer, as in libp2p/test-plans perf.
func clientPerf(ctx context.Context, h host.Host, target *peer.AddrInfo, upload, download uint64) error {
	start := time.Now()
	ctx, cancel, err := connect(ctx, h, target, perfTimeout)
	if err != nil {
		return err
	}
	defer cancel()
	s, err := openStream(ctx, h, target, perfProtoID)
	if err != nil {
		return err
	}
	defer s.Close()

	progress := &perfProgress{last: time.Now()}
	buf := make([]byte, perfBlock)
	binary.BigEndian.PutUint64(buf, download)
	if _, err := s.Write(buf[:8]); err != nil {
		return fmt.Errorf("writing the download size: %w", err)
	}
	clear(buf)
	var sent uint64
	for sent < upload {
		chunk := buf
		if upload-sent < uint64(len(chunk)) {
			chunk = chunk[:upload-sent]
		}
		n, err := s.Write(chunk)
		sent += uint64(n)
		progress.add(uint64(n), 0)
		if err != nil {
			return fmt.Errorf("uploading after %d of %d bytes: %w", sent, upload, err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		return fmt.Errorf("half-closing after the upload: %w", err)
	}
	var received uint64
	for {
		n, err := s.Read(buf)
		received += uint64(n)
		progress.add(0, uint64(n))
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("downloading after %d of %d bytes: %w", received, download, err)
		}
	}
	printJSON(perfLine{Type: "final", TimeSeconds: time.Since(start).Seconds(), UploadBytes: sent, DownloadBytes: received})
	if received != download {
		return fmt.Errorf("perf downloaded %d bytes, requested %d", received, download)
	}
	return nil
}

// echoPayloadFor returns the distinct 64 KiB payload of stream i (ChaCha8 seeded with i).
func echoPayloadFor(i int) []byte {
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
	payload := make([]byte, echoPayload)
	_, _ = rand.NewChaCha8(seed).Read(payload)
	return payload
}

// clientStreams opens count concurrent /switchyard/echo/1.0.0 streams, each sending its own
// 64 KiB payload and half-closing, and checks every echoed byte.
func clientStreams(ctx context.Context, h host.Host, target *peer.AddrInfo, count int) error {
	ctx, cancel, err := connect(ctx, h, target, commandTimeout)
	if err != nil {
		return err
	}
	defer cancel()
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = echoOnce(ctx, h, target, i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Printf("OK %d\n", count)
	return nil
}

func echoOnce(ctx context.Context, h host.Host, target *peer.AddrInfo, i int) error {
	s, err := openStream(ctx, h, target, echoProtoID)
	if err != nil {
		return fmt.Errorf("stream %d: %w", i, err)
	}
	defer s.Close()
	payload := echoPayloadFor(i)
	writeErr := make(chan error, 1)
	go func() {
		_, err := s.Write(payload)
		if err == nil {
			err = s.CloseWrite()
		}
		writeErr <- err
	}()
	got, err := io.ReadAll(io.LimitReader(s, echoPayload+1))
	if err != nil {
		_ = s.Reset()
		return fmt.Errorf("stream %d: reading the echo after %d bytes: %w", i, len(got), err)
	}
	if err := <-writeErr; err != nil {
		return fmt.Errorf("stream %d: writing the payload: %w", i, err)
	}
	if !bytes.Equal(got, payload) {
		at := 0
		for at < len(got) && at < len(payload) && got[at] == payload[at] {
			at++
		}
		return fmt.Errorf("stream %d: echo differs at byte %d (got %d bytes, sent %d)", i, at, len(got), len(payload))
	}
	return nil
}
