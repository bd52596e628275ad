package redistest_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
)

// TestServerDiesWithItsTestBinary runs this test binary again as a helper
// that starts a server, SIGKILLs the helper and checks that the server is
// gone, not orphaned.
func TestServerDiesWithItsTestBinary(t *testing.T) {
	if os.Getenv("REDISTEST_HELPER") == "1" {
		s, err := redistest.StartServer()
		if err != nil {
			fmt.Println("error", err)
			return
		}
		fmt.Println("addr", s.Addr(), s.Dir())
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent goes
		_ = s.Close()
		return
	}
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithItsTestBinary$")
	cmd.Env = append(os.Environ(), "REDISTEST_HELPER=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("reading the helper: %v", err)
	}
	var addr, dir string
	if _, err := fmt.Sscanf(line, "addr %s %s\n", &addr, &dir); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q", line)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // the killed helper could not
	if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
		t.Fatalf("the helper's server at %s does not listen: %v", addr, err)
	} else {
		_ = c.Close()
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return // gone with its test binary
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the server at %s still listens 10s after its test binary was killed", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
