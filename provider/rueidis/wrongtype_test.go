package rueidis_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	rue "github.com/redis/rueidis"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/rueidis"
)

// A key the Cache owns may hold a hash, a list or a set: written by another
// program, or by hand. Every call that reads it as a value must say so with
// provider.ErrWrongType, so that the Cache deletes the key and reloads;
// calls that replace or remove it work.
func TestAKeyOfAnotherTypeIsReportedAsErrWrongType(t *testing.T) {
	stores := []struct {
		name    string
		sharded bool
		setup   func(t *testing.T) (*rueidis.Provider, rue.Client)
	}{
		{"standalone", false, func(t *testing.T) (*rueidis.Provider, rue.Client) {
			raw := callersClient(t, testServer(t).Addr(), testDB)
			t.Cleanup(raw.Close)
			return newLocal(t, rueidis.Options{}), raw
		}},
		{"cluster", true, func(t *testing.T) (*rueidis.Provider, rue.Client) {
			raw, err := rue.NewClient(rue.ClientOption{InitAddress: testCluster(t).Addrs()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(raw.Close)
			return newClustered(t, rueidis.Options{}), raw
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			p, raw := st.setup(t)
			ctx := ctxFor(t)
			prefix := keyPrefix(t)
			n := 0
			hashAt := func(t *testing.T) string {
				t.Helper()
				n++
				k := prefix + "hash:" + strconv.Itoa(n)
				if err := raw.Do(ctx, raw.B().Hset().Key(k).FieldValue().FieldValue("field", "value").Build()).Error(); err != nil {
					t.Fatal(err)
				}
				return k
			}
			requireHashKept := func(t *testing.T, k string) {
				t.Helper()
				if v, err := raw.Do(ctx, raw.B().Hget().Key(k).Field("field").Build()).ToString(); err != nil || v != "value" {
					t.Fatalf("the hash at %q = %q, %v; a failed call must leave it alone", k, v, err)
				}
			}
			requireWrongType := func(t *testing.T, op string, err error) {
				t.Helper()
				if !errors.Is(err, provider.ErrWrongType) {
					t.Fatalf("%s of a hash = %v, want an error matching provider.ErrWrongType", op, err)
				}
			}

			t.Run("Get", func(t *testing.T) {
				_, err := p.Get(ctx, hashAt(t))
				requireWrongType(t, "Get", err)
			})
			t.Run("GetMulti, alone or with a string key", func(t *testing.T) {
				k := hashAt(t)
				other := prefix + "string"
				if err := p.Set(ctx, other, []byte("s"), time.Minute); err != nil {
					t.Fatal(err)
				}
				for _, keys := range [][]string{{k}, {other, k}} {
					vs, err := p.GetMulti(ctx, keys)
					if st.sharded {
						// One GET per key in a pipeline: the reply names the type.
						requireWrongType(t, "GetMulti", err)
						continue
					}
					// MGET answers nil for a key that does not hold a string:
					// a miss, after which the Cache's Add reports ErrWrongType.
					if err != nil {
						t.Fatalf("GetMulti(%q) = %v, want the hash as a missing key", keys, err)
					}
					if vs[len(vs)-1] != nil {
						t.Fatalf("GetMulti(%q) returned %q for the hash, want nil", keys, vs[len(vs)-1])
					}
					if len(keys) == 2 && string(vs[0]) != "s" {
						t.Fatalf("GetMulti(%q)[0] = %q, want \"s\"", keys, vs[0])
					}
				}
			})
			t.Run("Add (SET NX GET) fails and leaves the hash", func(t *testing.T) {
				k := hashAt(t)
				_, added, err := p.Add(ctx, k, []byte("v"), time.Minute)
				requireWrongType(t, "Add", err)
				if added {
					t.Fatal("Add reported added=true")
				}
				requireHashKept(t, k)
			})
			t.Run("AddMulti fails and leaves the hash", func(t *testing.T) {
				k := hashAt(t)
				_, err := p.AddMulti(ctx, []provider.Item{{Key: prefix + "fresh", Value: []byte("v")}, {Key: k, Value: []byte("v")}})
				requireWrongType(t, "AddMulti", err)
				requireHashKept(t, k)
			})
			t.Run("CompareAndSwap (script) fails and leaves the hash", func(t *testing.T) {
				k := hashAt(t)
				swapped, err := p.CompareAndSwap(ctx, k, []byte("old"), []byte("new"), time.Minute)
				requireWrongType(t, "CompareAndSwap", err)
				if swapped {
					t.Fatal("CompareAndSwap reported swapped=true")
				}
				requireHashKept(t, k)
			})
			t.Run("GetAddMulti fails and leaves the hash", func(t *testing.T) {
				k := hashAt(t)
				_, err := p.GetAddMulti(ctx, []provider.Fetch{{Key: prefix + "other", Add: []byte("lease"), TTL: time.Minute}, {Key: k, Add: []byte("lease"), TTL: time.Minute}})
				requireWrongType(t, "GetAddMulti", err)
				requireHashKept(t, k)
				// Only reading it: one GET per key on a Cluster names the
				// type; the standalone script's MGET reads it as missing.
				res, err := p.GetAddMulti(ctx, []provider.Fetch{{Key: k}})
				if st.sharded {
					requireWrongType(t, "GetAddMulti", err)
				} else if err != nil || res[0].Existing != nil || res[0].Added {
					t.Fatalf("a read-only GetAddMulti of a hash = %+v, %v; want it read as missing", res, err)
				}
				requireHashKept(t, k)
			})
			t.Run("CompareAndSwapMulti fails and leaves the hash", func(t *testing.T) {
				k := hashAt(t)
				_, err := p.CompareAndSwapMulti(ctx, []provider.Swap{{Key: prefix + "absent", Old: []byte("old"), New: []byte("new")}, {Key: k, Old: []byte("old"), New: []byte("new"), TTL: time.Minute}})
				requireWrongType(t, "CompareAndSwapMulti", err)
				requireHashKept(t, k)
			})
			t.Run("Delete, Set and SetMulti replace it", func(t *testing.T) {
				k := hashAt(t)
				if n, err := p.Delete(ctx, k); err != nil || n != 1 {
					t.Fatalf("Delete = %d, %v; want 1", n, err)
				}
				k = hashAt(t)
				if err := p.Set(ctx, k, []byte("v"), time.Minute); err != nil {
					t.Fatalf("Set over a hash: %v", err)
				}
				if v, err := p.Get(ctx, k); err != nil || string(v) != "v" {
					t.Fatalf("Get after Set = %q, %v", v, err)
				}
				k = hashAt(t)
				if err := p.SetMulti(ctx, []provider.Item{{Key: k, Value: []byte("w")}, {Key: prefix + "x", Value: []byte("x")}}); err != nil {
					t.Fatalf("SetMulti over a hash: %v", err)
				}
				if v, err := p.Get(ctx, k); err != nil || string(v) != "w" {
					t.Fatalf("Get after SetMulti = %q, %v", v, err)
				}
			})
			if _, err := p.DeletePattern(ctx, prefix+"*"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
