package main

// `peer transport-interop`: the libp2p/test-plans transport-interop contract (test-plans
// transport-interop/README.md "Test spec"), configured by the environment: transport (tcp, ws,
// quic-v1), muxer (yamux; not for quic-v1), security (noise, tls), is_dialer (true/false), ip (default 0.0.0.0),
// redis_addr (default redis:6379), test_timeout_seconds (default 180).
//
// The listener RPUSHes <multiaddr>/p2p/<id> to the Redis list listenerAddr and sleeps until the
// timeout (exit 1 then; the runner kills it first). The dialer BLPOPs the address, dials, pings
// once and prints {"handshakePlusOneRTTMillis":…,"pingRTTMilllis":…} (the spec's spelling).
// Diagnostics go to stderr. Redis is spoken as RESP2 by hand (no client module).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	manet "github.com/multiformats/go-multiaddr/net"
)

const listenerAddrKey = "listenerAddr"

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func runTransportInterop() error {
	required := func(name string) (string, error) {
		v := os.Getenv(name)
		if v == "" {
			return "", usagef("environment variable %s is required", name)
		}
		return v, nil
	}
	t, err := required("transport")
	if err != nil {
		return err
	}
	kind, err := parseTransport(t)
	if err != nil {
		return err
	}
	// quic-v1 brings its own TLS and streams: test-plans sets no muxer/security for it.
	security := []string{"noise"}
	if kind != "quic" {
		muxer, err := required("muxer")
		if err != nil {
			return err
		}
		if muxer != "yamux" {
			return usagef("muxer %q is not supported (yamux)", muxer)
		}
		sec, err := required("security")
		if err != nil {
			return err
		}
		security, err = parseSecurity(sec)
		if err != nil {
			return err
		}
		if len(security) != 1 {
			return usagef("security: exactly one of noise, tls")
		}
	}
	dialer, err := required("is_dialer")
	if err != nil {
		return err
	}
	if dialer != "true" && dialer != "false" {
		return usagef("is_dialer %q: true or false", dialer)
	}
	ip := envOr("ip", "0.0.0.0")
	timeoutS, err := strconv.ParseUint(envOr("test_timeout_seconds", "180"), 10, 32)
	if err != nil {
		return usagef("test_timeout_seconds %q: whole seconds", os.Getenv("test_timeout_seconds"))
	}
	timeout := time.Duration(timeoutS) * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	redis, err := dialRedis(ctx, envOr("redis_addr", "redis:6379"))
	if err != nil {
		return err
	}
	defer redis.Close()

	if dialer == "false" {
		h, err := newHost("", security, []string{listenAddr(kind, ip)})
		if err != nil {
			return err
		}
		defer h.Close()
		published := ""
		for _, addr := range h.Addrs() {
			// On 0.0.0.0 go-libp2p lists every interface: publish one another host can reach.
			if manet.IsIPLoopback(addr) && !strings.HasPrefix(ip, "127.") {
				continue
			}
			published = fmt.Sprintf("%s/p2p/%s", addr, h.ID())
			break
		}
		if published == "" {
			return fmt.Errorf("no listen address to publish among %v", h.Addrs())
		}
		if _, err := redis.command("RPUSH", listenerAddrKey, published); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "[transport-interop] listening on %s\n", published)
		<-ctx.Done()
		return fmt.Errorf("listener: test_timeout_seconds (%d s) reached", timeoutS)
	}

	h, err := newHost("", security, nil)
	if err != nil {
		return err
	}
	defer h.Close()
	_ = redis.conn.SetDeadline(time.Now().Add(timeout))
	reply, err := redis.command("BLPOP", listenerAddrKey, strconv.FormatUint(timeoutS, 10))
	if err != nil {
		return err
	}
	if len(reply) != 2 {
		return fmt.Errorf("no listener address in Redis within %d s", timeoutS)
	}
	target, err := parseTarget(reply[1])
	if err != nil {
		return err
	}
	start := time.Now()
	if err := h.Connect(ctx, *target); err != nil {
		return fmt.Errorf("connecting to %s: %w", reply[1], err)
	}
	res := <-ping.Ping(ctx, h, target.ID)
	if res.Error != nil {
		return fmt.Errorf("ping: %w", res.Error)
	}
	total := time.Since(start)
	out, _ := json.Marshal(map[string]float64{
		"handshakePlusOneRTTMillis": float64(total.Nanoseconds()) / 1e6,
		"pingRTTMilllis":            float64(res.RTT.Nanoseconds()) / 1e6,
	})
	fmt.Println(string(out))
	return nil
}

// redisConn speaks RESP2 (redis.io/docs/reference/protocol-spec): a command is an array of bulk
// strings; a reply is a simple string, error, integer, bulk string or array of bulk strings (a
// null bulk string or null array reads as no element).
type redisConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialRedis(ctx context.Context, addr string) (*redisConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to Redis at %s: %w", addr, err)
	}
	return &redisConn{conn: c, r: bufio.NewReader(c)}, nil
}

func (c *redisConn) Close() error { return c.conn.Close() }

func (c *redisConn) command(args ...string) ([]string, error) {
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c.conn, req.String()); err != nil {
		return nil, fmt.Errorf("Redis: %w", err)
	}
	header, err := c.line()
	if err != nil {
		return nil, err
	}
	switch header[0] {
	case '+', ':':
		return []string{header[1:]}, nil
	case '-':
		return nil, fmt.Errorf("Redis %s: %s", args[0], header[1:])
	case '$':
		return c.bulk(header)
	case '*':
		n, err := strconv.Atoi(header[1:])
		if err != nil {
			return nil, fmt.Errorf("Redis: bad reply %q", header)
		}
		var items []string
		for i := 0; i < n; i++ {
			h, err := c.line()
			if err != nil {
				return nil, err
			}
			item, err := c.bulk(h)
			if err != nil {
				return nil, err
			}
			items = append(items, item...)
		}
		return items, nil
	}
	return nil, fmt.Errorf("Redis: unexpected reply %q", header)
}

func (c *redisConn) line() (string, error) {
	s, err := c.r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("Redis: %w", err)
	}
	if len(s) < 3 || !strings.HasSuffix(s, "\r\n") {
		return "", fmt.Errorf("Redis: malformed line %q", s)
	}
	return s[:len(s)-2], nil
}

// bulk reads the body of a bulk string whose header line is header ($-1 = null).
func (c *redisConn) bulk(header string) ([]string, error) {
	if header[0] != '$' {
		return nil, fmt.Errorf("Redis: expected a bulk string, got %q", header)
	}
	n, err := strconv.Atoi(header[1:])
	if err != nil {
		return nil, fmt.Errorf("Redis: bad bulk length %q", header)
	}
	if n < 0 {
		return nil, nil
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return nil, fmt.Errorf("Redis: %w", err)
	}
	return []string{string(body[:n])}, nil
}
