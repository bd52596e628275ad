package main

import (
	"fmt"
	"math"
)

// Upstash Redis prices and quotas. Commands and the free tier's quotas are
// from the project's reference (shared/reference/upstash-rest-protocol.md,
// "Limits and cost", Upstash's billing page as of June 2026); storage and
// bandwidth prices of Pay-as-you-go from Upstash's pricing page
// (upstash.com/pricing/redis, "Pay-As-You-Go": storage $0.25 per GB-month
// after the first GB, bandwidth free up to 200 GB a month then $0.03 per
// GB), read for this bench in November 2026. Check them before quoting.
const (
	upstashFreeData      = 256 << 20 // bytes
	upstashFreeCommands  = 500_000   // per month
	upstashFreeBandwidth = 10 << 30  // bytes per month
	upstashCommandPrice  = 0.20 / 100_000
	upstashStoragePrice  = 0.25 // per GB-month
	upstashStorageFree   = 1 << 30
	upstashBandwidthFree = 200 << 30
	upstashBandwidthGB   = 0.03
	gb                   = 1 << 30
	// restOverhead is what the REST protocol adds to a value's bytes on the
	// wire: binary values travel base64-encoded (4 bytes per 3).
	restOverhead = 4.0 / 3.0
)

// workload is a month of cache traffic, for the Upstash figures.
type workload struct {
	keys          float64 // entries held
	reads, writes float64 // per month
}

// upstashMonth is what one way of storing the entries costs on Upstash.
type upstashMonth struct {
	name            string
	bytesPerEntry   float64
	dataBytes       float64 // stored
	bandwidthBytes  float64 // values moved by reads and writes, base64 on the wire
	commands        float64
	storageUSD      float64
	bandwidthUSD    float64
	commandsUSD     float64
	fitsFreeData    bool
	fitsFreeTraffic bool
}

func (m upstashMonth) totalUSD() float64 { return m.storageUSD + m.bandwidthUSD + m.commandsUSD }

// upstashCost prices w with entries of bytesPerEntry on Pay-as-you-go, and
// checks it against the free tier. Keys and envelopes are left out: they
// are the same whatever the codec does.
func upstashCost(name string, w workload, bytesPerEntry float64) upstashMonth {
	m := upstashMonth{name: name, bytesPerEntry: bytesPerEntry}
	m.dataBytes = w.keys * bytesPerEntry
	m.bandwidthBytes = (w.reads + w.writes) * bytesPerEntry * restOverhead
	m.commands = w.reads + w.writes // one command per read or write, however large the value
	m.storageUSD = math.Max(0, m.dataBytes-upstashStorageFree) / gb * upstashStoragePrice
	m.bandwidthUSD = math.Max(0, m.bandwidthBytes-upstashBandwidthFree) / gb * upstashBandwidthGB
	m.commandsUSD = m.commands * upstashCommandPrice
	m.fitsFreeData = m.dataBytes <= upstashFreeData
	m.fitsFreeTraffic = m.bandwidthBytes <= upstashFreeBandwidth && m.commands <= upstashFreeCommands
	return m
}

// writeUpstash prints the monthly table for w, one row per way of storing.
func writeUpstash(p printer, w workload, rows []upstashMonth) {
	p("| stored as | per entry | entries in the free 256 MB | data | bandwidth / month | commands / month | storage $ | bandwidth $ | commands $ | total $ / month | free tier (256 MB, 10 GB, 500K) |\n")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, m := range rows {
		free := "fits"
		switch {
		case !m.fitsFreeData && !m.fitsFreeTraffic:
			free = "data and traffic over"
		case !m.fitsFreeData:
			free = "data over 256 MB"
		case !m.fitsFreeTraffic:
			free = "traffic over"
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | **%s** | %s |\n", m.name, bytesOf(int(m.bytesPerEntry)),
			count(math.Floor(upstashFreeData/math.Max(m.bytesPerEntry, 1))), sizeOf(m.dataBytes), sizeOf(m.bandwidthBytes), count(m.commands),
			usd(m.storageUSD), usd(m.bandwidthUSD), usd(m.commandsUSD), usd(m.totalUSD()), free)
	}
	p("\n")
	p("Assumed traffic: %s entries held, %s reads and %s writes a month (change with -keys-held, -reads, -writes).\n",
		count(w.keys), count(w.reads), count(w.writes))
	p("Prices: Pay-as-you-go, $0.20 per 100K commands (every command of a pipeline counts), storage $0.25 per GB-month\n")
	p("after the first GB, bandwidth free up to 200 GB a month then $0.03 per GB; free tier 256 MB of data, 500K commands\n")
	p("and 10 GB of bandwidth a month (Upstash's billing and pricing pages, 2026; see bench/upstash.go). Bandwidth counts\n")
	p("the values only, base64-encoded as the REST API carries binary values (4/3 of their size). Compression changes\n")
	p("data and bandwidth, never the command count: one read is one GET whatever the value's size (so on\n")
	p("Pay-as-you-go the bill is mostly commands, and compression moves the free tier's data and bandwidth limits:\n")
	p("how many entries fit, how much traffic is free). An automatic dictionary costs each instance one extra GET per\n")
	p("dictionary it has not seen.\n\n")
}

func usd(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 0.01:
		return "< 0.01"
	case v < 100:
		return fmt.Sprintf("%.2f", v)
	}
	return count(v)
}

func sizeOf(b float64) string {
	switch {
	case b >= gb:
		return fmt.Sprintf("%.1f GB", b/gb)
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f KB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
