// Command bench measures what aside promises about size and speed and prints
// the figures as a Markdown report, with SVG charts:
//
//	go run ./bench                                              # memory only, to stdout
//	go run ./bench -redis 127.0.0.1:16379 -o bench/REPORT.md    # the committed report and bench/charts/*.svg
//	go run ./bench -short                                       # a quick check (its test runs this)
//	go run ./bench -dict-out npm.dict                           # also write the trained dictionary
//
// It also measures what aside would store for your own data, read-only:
//
//	go run ./bench -sample redis://127.0.0.1:6379/0 -o savings.md   # a random sample of a Redis database
//	UPSTASH_REDIS_REST_TOKEN=... go run ./bench -sample https://<db>.upstash.io   # an Upstash database over REST
//	go run ./bench -dir ./responses                                 # a random sample of files
//
// The report has five sections, all measured at run time:
//
//  1. Real data: npm registry documents and the releases cut from them
//     (testdata/npm, split by package into a training and a held-out
//     half). A real aside.Cache with AutoDictionary trains its dictionary
//     on the training half; every setup (plain JSON + zstd, aside per
//     algorithm and level, aside with the automatic dictionary, JSON with
//     a dictionary) is measured on the held-out half: bytes, ratio to the
//     JSON, encode and decode speed, against the targets, with
//     charts and what it means on Upstash per month.
//  2. Compression per payload kind: the real codec (codec.New, Marshal,
//     Unmarshal) on deterministic, seeded payloads (the User, a page
//     of 50 users, product API responses of ~2 KiB and ~64 KiB of JSON, an
//     HTML page, log text, random bytes) under zstd, s2, gzip, none and zstd
//     with a trained dictionary: serialized and stored bytes, savings, ns/op
//     and MB/s each way, allocations.
//  3. A zstd dictionary trained (codec.Train) on half of a corpus of small
//     synthetic values and measured on the other half.
//  4. A typical cache mix (70% small entities, 25% lists, 5% large
//     responses), totalled from section 2's sizes.
//  5. aside.Remember hit latency and allocations for the User, serial and
//     parallel, untagged and with three tags, on the memory provider and,
//     with -redis, on Redis next to a raw go-redis GET of the same bytes.
//
// The header records the machine, the Go version, the date and the command.
// Timings use testing.Benchmark; flags: -redis host:port, -redis-db N
// (default 12, whose keys under the "aside-bench" namespace are deleted
// before and after), -short, -o file, -charts dir (default charts/ beside
// -o), -dict-out file, and -keys-held, -reads, -writes for the Upstash
// figures.
//
// With -sample URL (redis://, rediss://, or an Upstash REST URL with the
// token in UPSTASH_REDIS_REST_TOKEN, read through provider/upstash) it
// draws a uniform random sample
// of the database's keys (SCAN, never KEYS: a reservoir over at most
// -scan-keys names, matching -match), reads at most -sample-keys values and
// -sample-bytes bytes with MGET, and sends nothing else: no write, ever.
// With -dir it samples regular files the same way. Each value is measured
// as aside would store it: an aside entry by its serialized payload, JSON
// as the msgpack of the decoded value, anything else as bytes. Half the
// sample trains a dictionary; every algorithm and level, and the
// dictionary, are measured on the other half, and priced on Upstash. A
// progress bar is drawn on a terminal only. Passwords in URLs are never
// printed, and the Upstash token is read from the environment only.
//
// What it does not do: it never prints figures it did not measure, it
// does not judge them against targets beyond stating the issue's, and a
// Redis that does not answer is a line in the report, not a failure. Sizes
// are reproducible; those with a trained dictionary are not quite, since
// training visits Go maps, and timings vary with the machine and its load.
package main
