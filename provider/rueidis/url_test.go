package rueidis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/rueidis"
)

const secret = "s3cr3t-pa55"

func TestURLErrorsSayWhatToChangeAndNeverShowThePassword(t *testing.T) {
	cases := []struct {
		name, url string
		seeds     []string
		want      string
	}{
		{"an empty URL", "", nil, "the URL is empty"},
		{"another scheme", "http://app:" + secret + "@cache:6379", nil, "the scheme must be redis:// or rediss://"},
		{"a bad percent-escape in the password", "redis://app:" + secret + "%zz@cache:6379", nil, "percent-encode"},
		{"a path that is not a database number", "redis://app:" + secret + "@cache:6379/" + secret, nil, "invalid database number"},
		{"a negative database", "redis://app:" + secret + "@cache:6379/-1", nil, "negative"},
		{"a bad query option", "redis://app:" + secret + "@cache:6379/0?dial_timeout=" + secret, nil, "invalid dial timeout"},
		{"a cluster URL naming a database", "redis://app:" + secret + "@cache:6379/3", []string{"10.0.0.1:7000"}, "only database 0"},
		{"a cluster seed that is a URL", "", []string{"redis://app:" + secret + "@cache:6379"}, "seed address #1 is not host:port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := rueidis.FromURL(tc.url, tc.seeds, rueidis.Options{})
			if err == nil {
				_ = p.Close()
				t.Fatalf("FromURL accepted %q", tc.url)
			}
			if !errors.Is(err, rueidis.ErrInvalidURL) {
				t.Fatalf("error %v does not match ErrInvalidURL", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the error shows the password: %v", err)
			}
			for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), secret) {
					t.Fatalf("a wrapped error shows the password: %v", e)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// A wrong password is the server's answer on the first call; that error
// does not show the password either.
func TestAWrongPasswordFailsCallsWithoutShowingIt(t *testing.T) {
	s := ownServer(t, "--requirepass", "right-"+secret)
	p, err := rueidis.NewFromURL("redis://:"+secret+"@"+s.Addr(), rueidis.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Get(context.Background(), "k")
	if err == nil || errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("Get with a wrong password = %v, want an error", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the error shows the password: %v", err)
	}
	t.Logf("wrong password: %v", err)

	good, err := rueidis.NewFromURL("redis://:right-"+secret+"@"+s.Addr()+"/2", rueidis.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.Set(context.Background(), "k", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set with the right password: %v", err)
	}
}

func TestADatabaseTheServerLacksFailsTheConstructor(t *testing.T) {
	s := ownServer(t)
	_, err := rueidis.NewFromURL(s.URL(99), rueidis.Options{Timeout: time.Second})
	if !errors.Is(err, rueidis.ErrInvalidURL) || !strings.Contains(err.Error(), "no database 99") {
		t.Fatalf("NewFromURL of database 99 = %v, want ErrInvalidURL naming it", err)
	}
}

func TestOptionsOutOfRangeAreRefused(t *testing.T) {
	for _, o := range []rueidis.Options{{Timeout: -1}, {ScanTimeout: -1}, {ScanCount: -1}, {MaxValueSize: -1}, {MaxInFlight: -1}, {MaxInFlight: 501}} {
		if _, err := rueidis.NewFromURL("redis://127.0.0.1:1", o); !errors.Is(err, rueidis.ErrInvalidOptions) {
			t.Errorf("NewFromURL with %+v = %v, want ErrInvalidOptions", o, err)
		}
	}
	if _, err := rueidis.New(nil, rueidis.Options{}); !errors.Is(err, rueidis.ErrNilClient) {
		t.Errorf("New(nil) = %v, want ErrNilClient", err)
	}
}
