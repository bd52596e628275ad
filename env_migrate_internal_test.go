package aside

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/keys"
)

func TestNamespaceScopeMatchesTheNamespaceOnly(t *testing.T) {
	for _, tc := range []struct {
		ns, other string
	}{
		{"", "shop"},
		{"shop", "shop:eu"},
		{"a*b", "a"},
		{"[x]", "x"},
		{`back\slash`, "back"},
	} {
		scope, err := namespaceScope(tc.ns)
		require.NoError(t, err)
		for version := 1; version <= 2; version++ {
			own, err := keys.New(keys.Options{Namespace: tc.ns, Version: version})
			require.NoError(t, err)
			other, err := keys.New(keys.Options{Namespace: tc.other, Version: version})
			require.NoError(t, err)
			e, _ := own.Entry("user:42")
			tag, _ := own.Tag("user")
			require.True(t, keys.Match(scope, e), "%q must match %q", scope, e)
			require.True(t, keys.Match(scope, tag), "%q must match %q", scope, tag)
			oe, _ := other.Entry("user:42")
			require.False(t, keys.Match(scope, oe), "%q must not match %q", scope, oe)
		}
		require.False(t, keys.Match(scope, "unrelated:key"))
	}
}
