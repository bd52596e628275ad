package emulator

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Stats counts what a real Upstash database would bill, and what the
// emulator did besides. Counters start at zero when the emulator is made and
// when [Emulator.ResetStats] is called. Every counter of a request is updated
// before the first byte of its response is written, so a client that has
// read a response sees it counted.
type Stats struct {
	// Requests is the number of authenticated requests, whatever their
	// outcome. The /_emulator endpoints are not counted anywhere.
	Requests int64 `json:"requests"`
	// Unauthorized is the number of requests refused for a missing or wrong
	// token (status 401). They count nowhere else.
	Unauthorized int64 `json:"unauthorized"`

	// Commands is the number of billed commands: each command that Redis
	// ran, one for a single command and one per command inside a pipeline
	// or a transaction, whether Redis answered a result or an error
	// (WRONGTYPE is billed). Commands the emulator refused, commands of a
	// discarded transaction and requests failed by an injected fault before
	// running are not billed. MULTI and EXEC around a transaction are not
	// counted.
	Commands int64 `json:"commands"`
	// CommandsByName splits Commands by lower-case command name, as the
	// client sent it ("evalsha" even when the emulator ran it as EVAL).
	CommandsByName map[string]int64 `json:"commands_by_name"`
	// CommandErrors is how many of the billed commands Redis answered with
	// an error.
	CommandErrors int64 `json:"command_errors"`
	// Refused is the number of commands answered by the emulator without
	// Redis: unsupported, dangerous, not allowed to the read-only token, or
	// part of a transaction discarded for one of those.
	Refused int64 `json:"refused"`

	// Pipelines and Transactions count the requests to /pipeline and
	// /multi-exec that ran; DiscardedTransactions those to /multi-exec
	// answered with one error and nothing run.
	Pipelines             int64 `json:"pipelines"`
	Transactions          int64 `json:"transactions"`
	DiscardedTransactions int64 `json:"discarded_transactions"`

	// RequestBytes is the body bytes read from authenticated requests;
	// ResponseBytes the body bytes written to them (a truncated reply counts
	// what was sent). Headers and URLs are not counted.
	RequestBytes  int64 `json:"request_bytes"`
	ResponseBytes int64 `json:"response_bytes"`

	// SyncTokens is the number of requests that carried a non-empty
	// upstash-sync-token header.
	SyncTokens int64 `json:"sync_tokens"`

	// Faults counts the injected faults by kind.
	Faults FaultStats `json:"faults"`
}

// FaultStats counts injected faults. See [Faults].
type FaultStats struct {
	Delayed      int64 `json:"delayed"`
	Dropped      int64 `json:"dropped"`
	ServerErrors int64 `json:"server_errors"`
	QuotaErrors  int64 `json:"quota_errors"`
	DroppedAfter int64 `json:"dropped_after"`
	Truncated    int64 `json:"truncated"`
}

// counters is the live form of Stats.
type counters struct {
	requests, unauthorized                      atomic.Int64
	commands, commandErrors, refused            atomic.Int64
	pipelines, transactions, discarded          atomic.Int64
	requestBytes, responseBytes, syncTokens     atomic.Int64
	delayed, dropped, serverErrors, quotaErrors atomic.Int64
	droppedAfter, truncated                     atomic.Int64
	byNameMu                                    sync.Mutex
	byName                                      map[string]int64
}

func (c *counters) billed(name string, isErr bool) {
	c.commands.Add(1)
	if isErr {
		c.commandErrors.Add(1)
	}
	c.byNameMu.Lock()
	if c.byName == nil {
		c.byName = make(map[string]int64)
	}
	c.byName[name]++
	c.byNameMu.Unlock()
}

func (c *counters) snapshot() Stats {
	c.byNameMu.Lock()
	byName := maps.Clone(c.byName)
	c.byNameMu.Unlock()
	if byName == nil {
		byName = map[string]int64{}
	}
	return Stats{
		Requests:              c.requests.Load(),
		Unauthorized:          c.unauthorized.Load(),
		Commands:              c.commands.Load(),
		CommandsByName:        byName,
		CommandErrors:         c.commandErrors.Load(),
		Refused:               c.refused.Load(),
		Pipelines:             c.pipelines.Load(),
		Transactions:          c.transactions.Load(),
		DiscardedTransactions: c.discarded.Load(),
		RequestBytes:          c.requestBytes.Load(),
		ResponseBytes:         c.responseBytes.Load(),
		SyncTokens:            c.syncTokens.Load(),
		Faults: FaultStats{
			Delayed:      c.delayed.Load(),
			Dropped:      c.dropped.Load(),
			ServerErrors: c.serverErrors.Load(),
			QuotaErrors:  c.quotaErrors.Load(),
			DroppedAfter: c.droppedAfter.Load(),
			Truncated:    c.truncated.Load(),
		},
	}
}

func (c *counters) reset() {
	for _, a := range []*atomic.Int64{
		&c.requests, &c.unauthorized, &c.commands, &c.commandErrors, &c.refused,
		&c.pipelines, &c.transactions, &c.discarded, &c.requestBytes, &c.responseBytes,
		&c.syncTokens, &c.delayed, &c.dropped, &c.serverErrors, &c.quotaErrors,
		&c.droppedAfter, &c.truncated,
	} {
		a.Store(0)
	}
	c.byNameMu.Lock()
	c.byName = nil
	c.byNameMu.Unlock()
}
