package coherence

// child reports whether this process is a re-executed child of the
// multi-process test, and runs it if so.
func child() bool { return false }
