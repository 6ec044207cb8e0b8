// Bench mode: go-libp2p as a column of switchyard's end-to-end benchmark (bench/e2e in the
// repository). `peer bench-server` listens and serves perf, echo and ping like `listen`;
// `peer bench-client` runs the same workloads as bench/e2e/workloads.ts inside this process, so
// warm figures (N dials, N echoes) are taken by go's own clock on go's own connections.
//
// Control channel (bench/e2e/impl-foreign.ts drives it):
//   stdout, first line   {"ready":{"pid":N,"impl":"go-libp2p"[,"addr":"<multiaddr>/p2p/<id>"]}}
//   stdin, one per line  <id> <command> [<name>=<value>]...   (values never contain spaces)
//   stdout, one per line {"id":<id>,"result":<json>} or {"id":<id>,"error":"<text>"}
// The process exits when stdin closes. Commands run concurrently, each in its own goroutine.
//
// Both sides run with go-libp2p's defaults except the limits the workloads need: the resource
// manager and the connection manager are replaced by their null versions (1000 connections from
// one host, 1000 streams on one connection; the defaults trim at 192 connections). Identify and
// ping stay on, as every go-libp2p host has them.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// benchTimeout bounds one command of the bench (the harness has its own, longer timeout).
const benchTimeout = 5 * time.Minute

// benchOptions lifts the limits the workloads exceed; everything else stays at its default.
func benchOptions() []libp2p.Option {
	return []libp2p.Option{
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.ConnectionManager(&connmgr.NullConnMgr{}),
	}
}

type benchArgs map[string]string

func (a benchArgs) num(name string) (int, error) {
	v, ok := a[name]
	if !ok {
		return 0, fmt.Errorf("missing %s=", name)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not an integer", name, v)
	}
	return n, nil
}

type benchHandler func(ctx context.Context, a benchArgs) (any, error)

var stdoutMu sync.Mutex

func benchReply(v map[string]any) {
	line, err := json.Marshal(v)
	if err != nil {
		line, _ = json.Marshal(map[string]any{"id": v["id"], "error": err.Error()})
	}
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	_, _ = os.Stdout.Write(append(line, '\n'))
}

// serveBench answers commands from stdin until it closes.
func serveBench(ready map[string]any, handlers map[string]benchHandler) {
	benchReply(map[string]any{"ready": ready})
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var wg sync.WaitGroup
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		id, err := strconv.Atoi(fields[0])
		if err != nil {
			continue
		}
		a := benchArgs{}
		for _, f := range fields[2:] {
			k, v, _ := strings.Cut(f, "=")
			a[k] = v
		}
		h, ok := handlers[fields[1]]
		if !ok {
			benchReply(map[string]any{"id": id, "error": "unknown command " + fields[1]})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
			defer cancel()
			result, err := h(ctx, a)
			if err != nil {
				benchReply(map[string]any{"id": id, "error": err.Error()})
				return
			}
			benchReply(map[string]any{"id": id, "result": result})
		}()
	}
	wg.Wait()
}

// cpuMs is the CPU time (user + system) this process has used, in ms.
func cpuMs(context.Context, benchArgs) (any, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return nil, err
	}
	us := ru.Utime.Sec*1e6 + int64(ru.Utime.Usec) + ru.Stime.Sec*1e6 + int64(ru.Stime.Usec)
	return float64(us) / 1000, nil
}

// memUsage is RSS (from /proc/self/statm) and the live Go heap after a full GC that returns
// freed memory to the OS; `external` is always 0 (no separate off-heap pool in go).
func memUsage(context.Context, benchArgs) (any, error) {
	runtime.GC()
	debug.FreeOSMemory()
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(statm))
	if len(f) < 2 {
		return nil, fmt.Errorf("unexpected /proc/self/statm %q", statm)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return nil, err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return map[string]any{"rss": pages * int64(os.Getpagesize()), "heapUsed": ms.HeapAlloc, "external": 0}, nil
}

func runBench(cmd string, a *args) error {
	security, err := parseSecurity(a.last("security"))
	if err != nil {
		return err
	}
	if cmd == "bench-server" {
		listen := a.options["listen"]
		if len(listen) == 0 {
			listen = []string{"/ip4/127.0.0.1/tcp/0"}
		}
		h, err := newHost("", security, listen, benchOptions()...)
		if err != nil {
			return err
		}
		defer h.Close()
		mountHandlers(h)
		addrs := h.Network().ListenAddresses()
		if len(addrs) == 0 {
			return fmt.Errorf("no listen address")
		}
		serveBench(map[string]any{"pid": os.Getpid(), "impl": "go-libp2p", "addr": fmt.Sprintf("%s/p2p/%s", addrs[0], h.ID())}, map[string]benchHandler{
			"cpu": cpuMs,
			"mem": memUsage,
			"stats": func(context.Context, benchArgs) (any, error) {
				conns := h.Network().Conns()
				streams := 0
				for _, c := range conns {
					streams += len(c.GetStreams())
				}
				return map[string]any{"connections": len(conns), "streams": streams}, nil
			},
		})
		return nil
	}
	c := &benchClient{security: security}
	defer c.stop()
	serveBench(map[string]any{"pid": os.Getpid(), "impl": "go-libp2p"}, map[string]benchHandler{
		"cpu":          cpuMs,
		"mem":          memUsage,
		"bulk":         c.bulk,
		"setup":        c.setup,
		"echo":         c.echo,
		"ping":         c.ping,
		"many":         c.many,
		"openConns":    c.openConns,
		"closeConns":   c.closeConns,
		"openStreams":  c.openStreams,
		"closeStreams": c.closeStreams,
	})
	return nil
}

// benchClient holds the hosts of the workloads. go-libp2p keeps one connection per peer and
// reuses it, so a fresh connection while another is open to the same server (setup, the
// 1000-connection memory figure) comes from another host.
type benchClient struct {
	security []string
	mu       sync.Mutex
	main     host.Host // the long-lived connection bulk, echo, ping and many run on
	dialer   host.Host // setup: dials, then closes, one connection at a time
	held     []host.Host
	streams  []network.Stream
	streamsH host.Host
}

func (c *benchClient) newHost() (host.Host, error) {
	return newHost("", c.security, nil, benchOptions()...)
}

func target(a benchArgs) (*peer.AddrInfo, error) {
	addr, ok := a["addr"]
	if !ok {
		return nil, fmt.Errorf("missing addr=")
	}
	return parseTarget(addr)
}

// targetAnd reads a command's target and the named integer arguments, in order.
func targetAnd(a benchArgs, names ...string) (*peer.AddrInfo, []int, error) {
	t, err := target(a)
	if err != nil {
		return nil, nil, err
	}
	v := make([]int, len(names))
	for i, name := range names {
		if v[i], err = a.num(name); err != nil {
			return nil, nil, err
		}
	}
	return t, v, nil
}

// connected returns h with a connection to the target (dialled now if there is none).
func connected(ctx context.Context, h host.Host, t *peer.AddrInfo) error {
	h.Peerstore().AddAddrs(t.ID, t.Addrs, peerstore.PermanentAddrTTL)
	return h.Connect(ctx, *t)
}

func (c *benchClient) mainHost(ctx context.Context, t *peer.AddrInfo) (host.Host, error) {
	c.mu.Lock()
	if c.main == nil {
		h, err := c.newHost()
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		c.main = h
	}
	h := c.main
	c.mu.Unlock()
	return h, connected(ctx, h, t)
}

func msSince(t0 time.Time) float64 { return float64(time.Since(t0).Nanoseconds()) / 1e6 }

// perfStream is the perf.md client: header, upload, FIN, then the whole download.
func perfStream(ctx context.Context, h host.Host, p peer.ID, up, down uint64, block []byte) error {
	s, err := h.NewStream(ctx, p, perfProtoID)
	if err != nil {
		return err
	}
	var header [8]byte
	binary.BigEndian.PutUint64(header[:], down)
	if _, err := s.Write(header[:]); err != nil {
		return err
	}
	if err := writeZeros(s, up, block); err != nil {
		return err
	}
	if err := s.CloseWrite(); err != nil {
		return err
	}
	got, err := io.CopyBuffer(io.Discard, onlyReader{s}, make([]byte, perfBlock))
	if err != nil {
		return err
	}
	if uint64(got) != down {
		return fmt.Errorf("perf: expected %d bytes back, got %d", down, got)
	}
	return s.Close()
}

func (c *benchClient) bulk(ctx context.Context, a benchArgs) (any, error) {
	t, v, err := targetAnd(a, "up", "down", "streams")
	if err != nil {
		return nil, err
	}
	up, down, n := v[0], v[1], v[2]
	h, err := c.mainHost(ctx, t)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			errs <- perfStream(ctx, h, t.ID, uint64(up/n), uint64(down/n), make([]byte, perfBlock))
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			return nil, err
		}
	}
	return msSince(t0), nil
}

// echoRound writes payload and reads len(payload) bytes back.
func echoRound(s network.Stream, payload, buf []byte) error {
	if _, err := s.Write(payload); err != nil {
		return err
	}
	_, err := io.ReadFull(s, buf[:len(payload)])
	return err
}

// finish half-closes, reads to EOF and releases the stream.
func finish(s network.Stream) error {
	if err := s.CloseWrite(); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, s); err != nil {
		return err
	}
	return s.Close()
}

func (c *benchClient) setup(ctx context.Context, a benchArgs) (any, error) {
	t, v, err := targetAnd(a, "n")
	if err != nil {
		return nil, err
	}
	n := v[0]
	c.mu.Lock()
	if c.dialer == nil {
		if c.dialer, err = c.newHost(); err != nil {
			c.mu.Unlock()
			return nil, err
		}
	}
	h := c.dialer
	c.mu.Unlock()
	one := []byte{0x2a}
	buf := make([]byte, 1)
	out := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := connected(ctx, h, t); err != nil {
			return nil, err
		}
		s, err := h.NewStream(ctx, t.ID, echoProtoID)
		if err != nil {
			return nil, err
		}
		if err := echoRound(s, one, buf); err != nil {
			return nil, err
		}
		out = append(out, msSince(t0))
		if err := finish(s); err != nil {
			return nil, err
		}
		if err := h.Network().ClosePeer(t.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *benchClient) echo(ctx context.Context, a benchArgs) (any, error) {
	t, v, err := targetAnd(a, "n", "size")
	if err != nil {
		return nil, err
	}
	n, size := v[0], v[1]
	h, err := c.mainHost(ctx, t)
	if err != nil {
		return nil, err
	}
	s, err := h.NewStream(ctx, t.ID, echoProtoID)
	if err != nil {
		return nil, err
	}
	payload := make([]byte, size)
	buf := make([]byte, size)
	if err := echoRound(s, payload, buf); err != nil { // negotiation outside the samples
		return nil, err
	}
	out := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := echoRound(s, payload, buf); err != nil {
			return nil, err
		}
		out = append(out, msSince(t0))
	}
	return out, finish(s)
}

// ping: each ping on a new /ipfs/ping/1.0.0 stream, 32 random bytes there and back (the time),
// then FIN and the stream released — the same workload as every other column.
func (c *benchClient) ping(ctx context.Context, a benchArgs) (any, error) {
	t, v, err := targetAnd(a, "n")
	if err != nil {
		return nil, err
	}
	n := v[0]
	h, err := c.mainHost(ctx, t)
	if err != nil {
		return nil, err
	}
	payload := make([]byte, 32)
	buf := make([]byte, 32)
	out := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		_, _ = rand.Read(payload)
		t0 := time.Now()
		s, err := h.NewStream(ctx, t.ID, protocol.ID(ping.ID))
		if err != nil {
			return nil, err
		}
		if err := echoRound(s, payload, buf); err != nil {
			return nil, err
		}
		out = append(out, msSince(t0))
		if err := finish(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *benchClient) many(ctx context.Context, a benchArgs) (any, error) {
	t, v, err := targetAnd(a, "n", "size")
	if err != nil {
		return nil, err
	}
	n, size := v[0], v[1]
	h, err := c.mainHost(ctx, t)
	if err != nil {
		return nil, err
	}
	payload := make([]byte, size)
	t0 := time.Now()
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			s, err := h.NewStream(ctx, t.ID, echoProtoID)
			if err == nil {
				_, err = s.Write(payload)
			}
			if err == nil {
				err = s.CloseWrite()
			}
			if err == nil {
				var got int64
				got, err = io.Copy(io.Discard, s)
				if err == nil && got != int64(size) {
					err = fmt.Errorf("echo: expected %d bytes, got %d", size, got)
				}
			}
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			return nil, err
		}
	}
	return msSince(t0), nil
}

func (c *benchClient) openConns(ctx context.Context, a benchArgs) (any, error) {
	t, v, err := targetAnd(a, "n")
	if err != nil {
		return nil, err
	}
	n := v[0]
	for i := 0; i < n; i++ {
		h, err := c.newHost()
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.held = append(c.held, h)
		c.mu.Unlock()
		if err := connected(ctx, h, t); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held), nil
}

func (c *benchClient) closeConns(context.Context, benchArgs) (any, error) {
	c.mu.Lock()
	held := c.held
	c.held = nil
	c.mu.Unlock()
	for _, h := range held {
		_ = h.Close()
	}
	return len(held), nil
}

func (c *benchClient) openStreams(ctx context.Context, a benchArgs) (any, error) {
	t, v, err := targetAnd(a, "n")
	if err != nil {
		return nil, err
	}
	n := v[0]
	h, err := c.newHost()
	if err != nil {
		return nil, err
	}
	if err := connected(ctx, h, t); err != nil {
		_ = h.Close()
		return nil, err
	}
	one := []byte{1}
	buf := make([]byte, 1)
	streams := make([]network.Stream, 0, n)
	for i := 0; i < n; i++ {
		s, err := h.NewStream(ctx, t.ID, echoProtoID)
		if err == nil {
			err = echoRound(s, one, buf)
		}
		if err != nil {
			_ = h.Close()
			return nil, err
		}
		streams = append(streams, s)
	}
	c.mu.Lock()
	c.streams, c.streamsH = streams, h
	c.mu.Unlock()
	return len(streams), nil
}

func (c *benchClient) closeStreams(context.Context, benchArgs) (any, error) {
	c.mu.Lock()
	streams, h := c.streams, c.streamsH
	c.streams, c.streamsH = nil, nil
	c.mu.Unlock()
	for _, s := range streams {
		_ = finish(s)
	}
	if h != nil {
		_ = h.Close()
	}
	return len(streams), nil
}

func (c *benchClient) stop() {
	_, _ = c.closeStreams(context.Background(), nil)
	_, _ = c.closeConns(context.Background(), nil)
	for _, h := range []host.Host{c.main, c.dialer} {
		if h != nil {
			_ = h.Close()
		}
	}
}
