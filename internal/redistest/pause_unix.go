//go:build unix

package redistest

import (
	"errors"
	"syscall"
)

// Pause freezes the server with SIGSTOP: connections stay open and the
// kernel still accepts new ones, but nothing is answered, which is how a
// hung or overloaded Redis looks to a client.
func (s *Server) Pause() error {
	if s.shared {
		return errShared
	}
	if s.cmd == nil {
		return errors.New("redistest: server not running")
	}
	return s.cmd.Process.Signal(syscall.SIGSTOP)
}

// Resume undoes [Server.Pause].
func (s *Server) Resume() error {
	if s.cmd == nil {
		return errors.New("redistest: server not running")
	}
	return s.cmd.Process.Signal(syscall.SIGCONT)
}
