// Command bench measures what aside promises about size and speed and prints
// the figures as a Markdown report:
//
//	go run ./bench                                              # memory only, to stdout
//	go run ./bench -redis 127.0.0.1:6379 -o bench/REPORT.md     # the committed report
//	go run ./bench -short                                       # a quick check (its test runs this)
//
// The report has four sections, all measured at run time:
//
//  1. Compression per payload kind: the real codec (codec.New, Marshal,
//     Unmarshal) on deterministic, seeded payloads (the User, a page
//     of 50 users, product API responses of ~2 KiB and ~64 KiB of JSON, an
//     HTML page, log text, random bytes) under zstd, s2, gzip, none and zstd
//     with a trained dictionary: serialized and stored bytes, savings, ns/op
//     and MB/s each way, allocations.
//  2. A zstd dictionary trained (klauspost/compress/dict) on half of a corpus
//     of small values and measured on the other half.
//  3. A typical cache mix (70% small entities, 25% lists, 5% large
//     responses), totalled from section 1's sizes.
//  4. aside.Remember hit latency and allocations for the User, serial and
//     parallel, untagged and with three tags, on the memory provider and,
//     with -redis, on Redis next to a raw go-redis GET of the same bytes.
//
// The header records the machine, the Go version, the date and the command.
// Timings use testing.Benchmark; flags: -redis host:port, -redis-db N
// (default 12, whose keys under the "aside-bench" namespace are deleted
// before and after), -short, -o file.
//
// What it does not do: it never prints figures it did not measure, it does
// not judge them against targets (the Go benchmarks of each package hold
// the targets), and a Redis that does not answer is a line in the report,
// not a failure. Sizes are reproducible; the dictionary is not quite, since
// training visits a Go map, and timings vary with the machine and its load.
package main
