package redistest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel SIGKILL the server when the test binary
// dies without stopping it (a panic, a -timeout, a SIGKILL), so no
// redis-server outlives its tests. The signal is tied to the thread that
// starts the process: [Server.Start] holds that thread until the server exits.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
