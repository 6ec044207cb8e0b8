// Command peer is a go-libp2p interop test peer for switchyard (TCP or WebSocket, Noise or
// TLS, yamux).
//
// It is a foreign reference implementation used only by interop tests; switchyard's
// src/ never imports it. The command contract is shared with switchyard's CLI and with
// interop/rust; see interop/go/README.md for the exact output formats.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
)

// Protocol ids mounted by `listen` and used by the client commands.
const (
	streamProtoID = "/test/stream-proto/1.0.0"
	echoProtoID   = "/switchyard/echo/1.0.0"
	perfProtoID   = "/perf/1.0.0"

	// agentVersion names this peer and the go-libp2p version it is built with (go.mod).
	agentVersion = "switchyard-interop-go/go-libp2p@v0.51.0"
)

const usage = `usage:
  peer listen [--listen <multiaddr>]... [--key <file>] [--transport tcp|ws] [--security noise,tls]
  peer stream <multiaddr/p2p/id>
  peer ping <multiaddr/p2p/id> [--count N]
  peer identify <multiaddr/p2p/id>
  peer perf <multiaddr/p2p/id> --upload-bytes N --download-bytes M
  peer streams <multiaddr/p2p/id> [--count N]
  peer transport-interop   (libp2p/test-plans transport-interop; configured by the environment)
  peer bench-server [--listen <multiaddr>] [--security noise|tls]   (switchyard's bench/e2e harness)
  peer bench-client [--security noise|tls]                          (commands on stdin, see bench.go)
client commands also take --key, --transport tcp|ws (must match the multiaddr) and --security
(comma list in preference order: noise, tls; default noise)`

// usageError is reported with exit status 2; every other error exits with 1.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	err := run(os.Args[1:])
	if err == nil {
		os.Exit(0)
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "usage error: %s (see peer --help)\n", msg)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "error: %s\n", msg)
	os.Exit(1)
}

// args holds one positional argument list and repeated --name value options.
type args struct {
	positional []string
	options    map[string][]string
}

// parseArgs accepts `--name value` and `--name=value` anywhere; every option takes a value.
func parseArgs(raw []string, allowed ...string) (*args, error) {
	a := &args{options: map[string][]string{}}
	ok := map[string]bool{}
	for _, name := range allowed {
		ok[name] = true
	}
	for i := 0; i < len(raw); i++ {
		arg := raw[i]
		if !strings.HasPrefix(arg, "--") {
			a.positional = append(a.positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg[2:], "=")
		if !ok[name] {
			return nil, usagef("unknown option --%s", name)
		}
		if !hasValue {
			if i+1 >= len(raw) {
				return nil, usagef("option --%s needs a value", name)
			}
			i++
			value = raw[i]
		}
		a.options[name] = append(a.options[name], value)
	}
	return a, nil
}

// uint returns the last value of an unsigned integer option, or def when it is absent.
func (a *args) uint(name string, def uint64, required bool) (uint64, error) {
	values := a.options[name]
	if len(values) == 0 {
		if required {
			return 0, usagef("option --%s is required", name)
		}
		return def, nil
	}
	n, err := strconv.ParseUint(values[len(values)-1], 10, 64)
	if err != nil {
		return 0, usagef("option --%s expects an unsigned integer, got %q", name, values[len(values)-1])
	}
	return n, nil
}

func run(raw []string) error {
	if len(raw) == 0 {
		return usagef("missing command")
	}
	cmd, rest := raw[0], raw[1:]
	switch cmd {
	case "listen":
		a, err := parseArgs(rest, "listen", "key", "security", "transport")
		if err != nil {
			return err
		}
		if len(a.positional) != 0 {
			return usagef("listen takes no positional arguments, got %q", a.positional)
		}
		return runListen(a)
	case "stream", "ping", "identify", "perf", "streams":
		allowed := map[string][]string{
			"stream":   {},
			"ping":     {"count"},
			"identify": {},
			"perf":     {"upload-bytes", "download-bytes"},
			"streams":  {"count"},
		}[cmd]
		a, err := parseArgs(rest, append(allowed, "key", "security", "transport")...)
		if err != nil {
			return err
		}
		if len(a.positional) != 1 {
			return usagef("%s takes exactly one multiaddr with /p2p/<peerId>", cmd)
		}
		target, err := parseTarget(a.positional[0])
		if err != nil {
			return err
		}
		if t := a.last("transport"); t != "" {
			kind, err := parseTransport(t)
			if err != nil {
				return err
			}
			if kind != transportOf(target.Addrs[0]) {
				return usagef("--transport %s does not match %s", t, a.positional[0])
			}
		}
		return runClient(cmd, a, target)
	case "bench-server", "bench-client":
		a, err := parseArgs(rest, "listen", "security")
		if err != nil {
			return err
		}
		return runBench(cmd, a)
	case "transport-interop":
		if len(rest) != 0 {
			return usagef("transport-interop takes no arguments (it reads its environment)")
		}
		return runTransportInterop()
	case "-h", "--help", "help":
		fmt.Println(usage)
		return nil
	default:
		return usagef("unknown command %q", cmd)
	}
}

func parseTarget(s string) (*peer.AddrInfo, error) {
	addr, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, usagef("invalid multiaddr %q: %v", s, err)
	}
	info, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return nil, usagef("multiaddr %q must end with /p2p/<peerId>: %v", s, err)
	}
	return info, nil
}

// loadKey reads a protobuf-encoded libp2p PrivateKey from path; a missing file is created
// with a fresh key of go-libp2p's default type (Ed25519). An empty path means a fresh key.
func loadKey(path string) (crypto.PrivKey, error) {
	if path == "" {
		priv, _, err := crypto.GenerateEd25519Key(nil)
		return priv, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		priv, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			return nil, err
		}
		encoded, err := crypto.MarshalPrivateKey(priv)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, encoded, 0o600); err != nil {
			return nil, fmt.Errorf("writing key file %s: %w", path, err)
		}
		return priv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	priv, err := crypto.UnmarshalPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s is not a protobuf libp2p PrivateKey: %w", path, err)
	}
	return priv, nil
}

// last returns the last value of an option, "" when absent.
func (a *args) last(name string) string {
	if values := a.options[name]; len(values) > 0 {
		return values[len(values)-1]
	}
	return ""
}

// parseSecurity reads --security: a comma list of noise and tls in preference order (the
// dialer proposes them in this order; the listener accepts any of them); default noise.
func parseSecurity(s string) ([]string, error) {
	if s == "" {
		return []string{"noise"}, nil
	}
	var list []string
	for _, name := range strings.Split(s, ",") {
		if name != "noise" && name != "tls" {
			return nil, usagef("--security: unknown security %q (noise, tls)", name)
		}
		for _, seen := range list {
			if seen == name {
				return nil, usagef("--security: %s named twice", name)
			}
		}
		list = append(list, name)
	}
	return list, nil
}

// transportKind is the transport of a multiaddr: plain TCP, WebSocket over TCP or QUIC v1
// (quic-go; TLS 1.3 and streams are QUIC's own, --security does not apply to it).
type transportKind string

func parseTransport(s string) (transportKind, error) {
	switch s {
	case "tcp", "ws":
		return transportKind(s), nil
	case "quic", "quic-v1":
		return "quic", nil
	}
	return "", usagef("--transport: unknown transport %q (tcp, ws, quic)", s)
}

func transportOf(addr ma.Multiaddr) transportKind {
	if _, err := addr.ValueForProtocol(ma.P_QUIC_V1); err == nil {
		return "quic"
	}
	if _, err := addr.ValueForProtocol(ma.P_WS); err == nil {
		return "ws"
	}
	return "tcp"
}

// listenAddr is the listen address of a transport on ip with an OS-chosen port.
func listenAddr(kind transportKind, ip string) string {
	if kind == "ws" {
		return "/ip4/" + ip + "/tcp/0/ws"
	}
	if kind == "quic" {
		return "/ip4/" + ip + "/udp/0/quic-v1"
	}
	return "/ip4/" + ip + "/tcp/0"
}

// newHost builds a go-libp2p host with the TCP, WebSocket and QUIC v1 transports (the multiaddr
// picks one), the security protocols in preference order and yamux for TCP/WS; no relay, no NAT.
func newHost(keyPath string, security []string, listen []string, extra ...libp2p.Option) (host.Host, error) {
	priv, err := loadKey(keyPath)
	if err != nil {
		return nil, err
	}
	opts := []libp2p.Option{
		libp2p.Identity(priv),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(websocket.New),
		libp2p.Transport(libp2pquic.NewTransport),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.UserAgent(agentVersion),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.Ping(true),
	}
	opts = append(opts, extra...)
	for _, name := range security {
		switch name {
		case "noise":
			opts = append(opts, libp2p.Security(noise.ID, noise.New))
		case "tls":
			opts = append(opts, libp2p.Security(libp2ptls.ID, libp2ptls.New))
		}
	}
	if len(listen) > 0 {
		opts = append(opts, libp2p.ListenAddrStrings(listen...))
	} else {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	return libp2p.New(opts...)
}

// newHostFromArgs builds the host of a command from its --key and --security options.
func newHostFromArgs(a *args, listen []string) (host.Host, error) {
	security, err := parseSecurity(a.last("security"))
	if err != nil {
		return nil, err
	}
	return newHost(a.last("key"), security, listen)
}

func runListen(a *args) error {
	listen := a.options["listen"]
	if len(listen) == 0 {
		kind := transportKind("tcp")
		if t := a.last("transport"); t != "" {
			var err error
			if kind, err = parseTransport(t); err != nil {
				return err
			}
		}
		listen = []string{listenAddr(kind, "127.0.0.1")}
	}
	for _, s := range listen {
		if _, err := ma.NewMultiaddr(s); err != nil {
			return usagef("invalid --listen multiaddr %q: %v", s, err)
		}
	}
	h, err := newHostFromArgs(a, listen)
	if err != nil {
		return err
	}
	defer h.Close()
	mountHandlers(h)
	// One stderr line per connection naming what was negotiated: the matrix reads the security
	// protocol off it (a listener offering several must get the dialer's first choice it supports).
	h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		st := c.ConnState()
		fmt.Fprintf(os.Stderr, "[listen] connection from %s at %s: security %s, muxer %s\n", c.RemotePeer(), c.RemoteMultiaddr(), st.Security, st.StreamMultiplexer)
	}})

	var out strings.Builder
	for _, addr := range h.Network().ListenAddresses() {
		fmt.Fprintf(&out, "LISTEN %s/p2p/%s\n", addr, h.ID())
	}
	if _, err := os.Stdout.WriteString(out.String()); err != nil {
		return err
	}
	_ = os.Stdout.Sync()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	fmt.Fprintf(os.Stderr, "[listen] %s received, shutting down\n", s)
	return nil
}

func runClient(cmd string, a *args, target *peer.AddrInfo) error {
	h, err := newHostFromArgs(a, nil)
	if err != nil {
		return err
	}
	defer h.Close()

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	switch cmd {
	case "stream":
		return clientStream(ctx, h, target)
	case "ping":
		count, err := a.uint("count", 1, false)
		if err != nil {
			return err
		}
		if count == 0 {
			return usagef("--count must be at least 1")
		}
		return clientPing(ctx, h, target, count)
	case "identify":
		return clientIdentify(ctx, h, target)
	case "perf":
		up, err := a.uint("upload-bytes", 0, true)
		if err != nil {
			return err
		}
		down, err := a.uint("download-bytes", 0, true)
		if err != nil {
			return err
		}
		return clientPerf(ctx, h, target, up, down)
	case "streams":
		count, err := a.uint("count", 50, false)
		if err != nil {
			return err
		}
		if count == 0 || count > 1000 {
			return usagef("--count must be between 1 and 1000")
		}
		return clientStreams(ctx, h, target, int(count))
	}
	return usagef("unknown command %q", cmd)
}
