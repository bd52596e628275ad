//go:build !unix

package coherence

// child is the multi-process test's entry point, which needs SIGSTOP.
func child() bool { return false }
