//go:build !unix

package aside_test

func nearChild() bool { return false }
