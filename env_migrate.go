package aside

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aside-go/aside/keys"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/dual"
	"github.com/aside-go/aside/provider/memory"
)

// dualOptions puts a composite of package provider/dual in o.Provider when
// CACHE_MIGRATE_FROM or CACHE_FALLBACK asks for one:
//
//   - CACHE_MIGRATE_FROM=memory with CACHE_PROVIDER=redis: a Migrator
//     writing to both. Before CACHE_MIGRATE_CUTOVER=true memory is the
//     primary, read through to Redis and backfilled; after it, Redis is the
//     primary and memory follows, answering every read as a shadow for the
//     stats only (read-through from a process's memory into a shared store
//     would publish what other processes invalidated).
//   - CACHE_FALLBACK=memory with a network CACHE_PROVIDER: a Fallback
//     serving from a fresh in-process store (CACHE_MEMORY_MAX_BYTES) during
//     each outage.
//
// Both get the namespace's keys as their Scope, so that an overflowed
// journal deletes only this cache's keys.
func (cfg Config) dualOptions(o Options, timeout time.Duration) (Options, error) {
	from := strings.ToLower(strings.TrimSpace(cfg.MigrateFrom))
	fallback := strings.ToLower(strings.TrimSpace(cfg.Fallback))
	cutover := false
	if s := strings.TrimSpace(cfg.MigrateCutover); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return o, closeOnError(o, fmt.Errorf("%w: CACHE_MIGRATE_CUTOVER=%q: want true or false", ErrConfig, s))
		}
		if from == "" {
			return o, closeOnError(o, fmt.Errorf("%w: CACHE_MIGRATE_CUTOVER is set but CACHE_MIGRATE_FROM is not: name the store being migrated from", ErrConfig))
		}
		cutover = b
	}
	if from == "" && fallback == "" {
		return o, nil
	}
	to := strings.ToLower(strings.TrimSpace(cfg.Provider))
	if to == "" {
		to = "memory"
	}
	if from != "" && fallback != "" {
		return o, closeOnError(o, fmt.Errorf("%w: CACHE_MIGRATE_FROM and CACHE_FALLBACK cannot be combined: finish the migration, then turn the fallback on", ErrConfig))
	}
	scope, err := namespaceScope(o.Namespace)
	if err != nil {
		return o, closeOnError(o, err)
	}
	newMemory := func() (provider.Provider, error) { return memory.New(memory.Options{MaxBytes: o.MemoryMaxBytes}) }

	if fallback != "" {
		switch {
		case fallback != "memory":
			return o, closeOnError(o, fmt.Errorf("%w: CACHE_FALLBACK=%q: want memory", ErrConfig, cfg.Fallback))
		case o.Provider == nil:
			return o, fmt.Errorf("%w: CACHE_FALLBACK=memory needs a network CACHE_PROVIDER (redis): the memory provider does not fail", ErrConfig)
		}
		f, err := dual.NewFallback(o.Provider, dual.FallbackOptions{
			NewSecondary:  newMemory,
			Scope:         scope,
			PrimaryName:   to,
			SecondaryName: "memory",
			Logger:        o.Logger,
		})
		if err != nil {
			return o, closeOnError(o, fmt.Errorf("%w: CACHE_FALLBACK: %w", ErrConfig, err))
		}
		o.Provider = f
		return o, nil
	}

	if from != "memory" && from != "redis" {
		return o, closeOnError(o, fmt.Errorf("%w: CACHE_MIGRATE_FROM=%q: want memory or redis", ErrConfig, cfg.MigrateFrom))
	}
	if from == to {
		return o, closeOnError(o, fmt.Errorf("%w: CACHE_MIGRATE_FROM=%s is also CACHE_PROVIDER: name the store being migrated from", ErrConfig, from))
	}
	newStore := o.Provider
	if newStore == nil {
		if newStore, err = newMemory(); err != nil {
			return o, fmt.Errorf("%w: CACHE_MEMORY_MAX_BYTES: %w", ErrConfig, err)
		}
	}
	var oldStore provider.Provider
	if from == "memory" {
		oldStore, err = newMemory()
	} else {
		oldStore, err = redisFromEnv(cfg, timeout, o.Logger)
	}
	if err != nil {
		_ = newStore.Close()
		return o, err
	}
	primary, secondary, pName, sName := oldStore, newStore, from, to
	if cutover {
		primary, secondary, pName, sName = newStore, oldStore, to, from
	}
	_, inProcess := primary.(*memory.Provider)
	shadow := 0.0
	if !inProcess {
		shadow = 1 // the in-process secondary answers every read too, for the stats: it costs nothing
	}
	m, err := dual.NewMigrator(primary, secondary, dual.MigrateOptions{
		ReadThrough:   inProcess,
		ShadowReads:   shadow,
		Scope:         scope,
		PrimaryName:   pName,
		SecondaryName: sName,
		Logger:        o.Logger,
	})
	if err != nil {
		return o, errors.Join(fmt.Errorf("%w: CACHE_MIGRATE_FROM: %w", ErrConfig, err), primary.Close(), secondary.Close())
	}
	o.Provider = m
	return o, nil
}

// closeOnError closes the provider o holds, which the caller will never
// get, and returns err.
func closeOnError(o Options, err error) error {
	if o.Provider != nil {
		_ = o.Provider.Close()
	}
	return err
}

// namespaceScope returns a glob matching every key of namespace, whatever
// its key version: the prefix of package keys without its version, with
// the glob metacharacters quoted, and '*'.
func namespaceScope(namespace string) (string, error) {
	kb, err := keys.New(keys.Options{Namespace: namespace})
	if err != nil {
		return "", fmt.Errorf("%w: CACHE_NAMESPACE: %w", ErrConfig, err)
	}
	prefix := kb.Prefix()                                                  // "aside:<ns>:v1:"
	prefix = prefix[:strings.LastIndexByte(prefix[:len(prefix)-1], ':')+1] // "aside:<ns>:"
	var b strings.Builder
	for i := range len(prefix) {
		switch c := prefix[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('*')
	return b.String(), nil
}
