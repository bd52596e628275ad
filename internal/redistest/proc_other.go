//go:build !linux

package redistest

import "os/exec"

// dieWithParent does nothing here: only Linux kills a child with its parent.
// A test binary that dies without stopping its servers leaves them running.
func dieWithParent(*exec.Cmd) {}
