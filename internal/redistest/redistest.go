package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// InCI reports whether tests run in CI, where a missing Redis is a failure.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable ends the test because Redis cannot be used: t.Fatal in CI,
// t.Skip elsewhere. why says what is missing and how to get it.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("redis is required in CI (CI=true): %s", why)
	}
	t.Skipf("skipping: %s (set CI=true to make this a failure)", why)
}

// errNoBinary says how to get the redis-server binary every test server needs.
var errNoBinary = errors.New("redis-server binary not found in PATH " +
	"(install redis-server, e.g. apt-get install redis-server; .ci/run installs it)")

// Binary returns the path of redis-server, or an error saying how to get it.
func Binary() (string, error) {
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errNoBinary
	}
	return p, nil
}

// Server is one redis-server process owned by a test.
type Server struct {
	bin   string
	dir   string
	port  int
	bus   int    // cluster bus port; 0 when not a cluster node
	conf  string // sentinel config file; "" when not a sentinel
	spare int    // a second free port, for the cluster bus
	args  []string
	cmd   *exec.Cmd
	done  chan struct{} // closed when cmd has been waited for

	shared bool // the server of [Shared]: no test may stop or pause it
}

// Addr is the server's host:port on the loopback interface.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Dir is the server's working directory.
func (s *Server) Dir() string { return s.dir }

// URL is the redis:// URL of database db on the server.
func (s *Server) URL(db int) string { return "redis://" + s.Addr() + "/" + strconv.Itoa(db) }

// Client returns a go-redis client on database db of the server, closed
// when the test ends.
func (s *Server) Client(t testing.TB, db int) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), DB: db, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// StartServer starts a standalone redis-server with no persistence on a free
// loopback port. extra arguments are passed to redis-server as-is.
func StartServer(extra ...string) (*Server, error) {
	return startServer(false, extra)
}

func startServer(cluster bool, extra []string) (*Server, error) {
	return start(func(s *Server) error {
		if cluster {
			s.bus = s.spare
		}
		return nil
	}, extra)
}

// start makes a directory and a server on free ports, lets setup adjust the
// server before it starts, and starts it.
func start(setup func(*Server) error, extra []string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "aside-redis-*")
	if err != nil {
		return nil, fmt.Errorf("redistest: temp dir: %w", err)
	}
	var lastErr error
	for range 5 { // a free port can be taken between probing and binding
		ports, err := freePorts(2)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		s := &Server{bin: bin, dir: dir, port: ports[0], spare: ports[1], args: extra}
		if err := setup(s); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		if lastErr = s.Start(); lastErr == nil {
			return s, nil
		}
	}
	_ = os.RemoveAll(dir)
	return nil, lastErr
}

// Start starts the server again on the same port after [Server.Stop].
func (s *Server) Start() error {
	if s.cmd != nil {
		return errors.New("redistest: server already running")
	}
	var args []string
	if s.conf != "" {
		args = []string{s.conf, "--sentinel"}
	}
	args = append(args,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--daemonize", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"), "--protected-mode", "no")
	if s.conf == "" {
		args = append(args, "--save", "", "--appendonly", "no")
	}
	if s.bus != 0 {
		args = append(args, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
			"--cluster-port", strconv.Itoa(s.bus),
			"--cluster-node-timeout", "2000")
	}
	args = append(args, s.args...)
	cmd := exec.Command(s.bin, args...)
	dieWithParent(cmd)
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// On Linux the kernel kills the server when the thread that started
		// it exits (see dieWithParent); this goroutine keeps that thread
		// until the server is gone, so only the test binary's end kills it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		<-done
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	s.cmd = cmd
	s.done = done
	if err := s.waitReady(); err != nil {
		_ = s.stop()
		return err
	}
	return nil
}

func (s *Server) waitReady() error {
	// Wait for the port with plain dials first: go-redis logs every failed
	// dial to stderr.
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("redistest: redis-server on port %d exited at start: %s", s.port, s.logTail())
		default:
		}
		conn, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: redis-server on port %d did not listen within %s: %v", s.port, startTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := goredis.NewClient(&goredis.Options{
		Addr: s.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1,
		DialerRetries: 1, ContextTimeoutEnabled: true,
	})
	defer c.Close()
	for {
		select {
		case <-s.done:
			return fmt.Errorf("redistest: redis-server on port %d exited at start: %s", s.port, s.logTail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil || strings.HasPrefix(err.Error(), "NOAUTH") {
			return nil // answering, if only to ask for a password
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: redis-server on port %d did not answer PING within %s: %v", s.port, startTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// StartSentinel starts a Redis Sentinel that monitors the master at
// masterAddr under the name master, with a quorum of one.
func StartSentinel(master, masterAddr string) (*Server, error) {
	host, port, err := net.SplitHostPort(masterAddr)
	if err != nil {
		return nil, fmt.Errorf("redistest: master address: %w", err)
	}
	return start(func(s *Server) error {
		s.conf = filepath.Join(s.dir, "sentinel.conf")
		conf := fmt.Sprintf("sentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 5000\n", master, host, port, master)
		return os.WriteFile(s.conf, []byte(conf), 0o600)
	}, nil)
}

// errShared refuses to stop or pause the server of [Shared], which the other
// tests of the binary are using.
var errShared = errors.New("redistest: the shared server cannot be stopped or paused; start one with StartServer")

// Stop kills the server and waits for it to exit. The port and directory are
// kept, so [Server.Start] can bring it back. Stop on a stopped server is a
// no-op.
func (s *Server) Stop() error {
	if s.shared {
		return errShared
	}
	return s.stop()
}

func (s *Server) stop() error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
	return nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	if s.shared {
		return errShared
	}
	return s.close()
}

func (s *Server) close() error {
	err := s.stop()
	if rmErr := os.RemoveAll(s.dir); err == nil {
		err = rmErr
	}
	return err
}

// freePorts returns n distinct free loopback TCP ports.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("redistest: find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
