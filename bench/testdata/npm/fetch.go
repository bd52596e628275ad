//go:build ignore

// Command fetch rebuilds packuments.jsonl, the bench's corpus: the npm
// registry's package documents ("packuments") of the packages listed
// below, one per line, compacted (json.Compact: the registry's bytes
// without white space, keys in the order served), keeping those of 4 KB to
// 100 KB. Run it from the repository root:
//
//	go run bench/testdata/npm/fetch.go
//
// It asks the registry for each name once, in order, and writes nothing
// else. README.md beside it says when the committed file was fetched.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// names are small, widely used packages (the dependencies of web servers
// and command-line tools), whose documents are of a size a cache holds.
var names = strings.Fields(`
accepts ajv-keywords ansi-regex ansi-styles anymatch array-flatten at-least-node
balanced-match binary-extensions brace-expansion braces bytes call-bind camelcase
chalk classnames cliui clsx color-convert color-name colorette commander concat-map
content-type cookie cookie-signature cross-spawn dayjs debug decamelize deepmerge
define-data-property depd destroy dotenv ee-first emoji-regex encodeurl es-define-property
es-errors escape-html escape-string-regexp etag execa fast-deep-equal
fast-json-stable-stringify fill-range find-up forwarded fresh fs-extra fs.realpath
function-bind get-caller-file get-intrinsic get-stream glob glob-parent gopd
graceful-fs has-flag has-property-descriptors has-proto has-symbols hasown http-errors
human-signals iconv-lite inflight inherits ipaddr.js is-binary-path is-even is-extglob
is-fullwidth-code-point is-glob is-number is-odd is-stream isarray isexe js-tokens
json-schema-traverse jsonfile kind-of kleur left-pad locate-path loose-envify lru-cache
media-typer merge-descriptors merge-stream methods mime-db mime-types mimic-fn minimatch
minimist mkdirp ms nanocolors nanoid negotiator normalize-path npm-run-path object-assign
object-inspect on-finished once onetime p-limit p-locate parseurl path-exists
path-is-absolute path-key path-to-regexp picocolors picomatch pify prop-types proxy-addr
punycode qs range-parser raw-body react-is readdirp require-directory rimraf safe-buffer
safer-buffer scheduler semver set-function-length setprototypeof shebang-command
shebang-regex side-channel signal-exit statuses string-width strip-ansi
strip-final-newline supports-color tinycolor2 to-regex-range toidentifier tslib type-is
universalify unpipe uri-js utils-merge uuid vary which wrap-ansi wrappy y18n yallist
yargs-parser yocto-queue`)

const (
	registry = "https://registry.npmjs.org/"
	minSize  = 4 << 10
	maxSize  = 100 << 10
)

func main() {
	out := filepath.Join("bench", "testdata", "npm", "packuments.jsonl")
	var buf bytes.Buffer
	client := &http.Client{Timeout: 30 * time.Second}
	kept := 0
	for _, name := range names {
		doc, err := get(client, registry+name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fetch:", name, err)
			os.Exit(1)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, doc); err != nil {
			fmt.Fprintln(os.Stderr, "fetch:", name, "is not JSON:", err)
			os.Exit(1)
		}
		if c.Len() < minSize || c.Len() > maxSize {
			continue
		}
		buf.Write(c.Bytes())
		buf.WriteByte('\n')
		kept++
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "fetch:", err)
		os.Exit(1)
	}
	fmt.Printf("fetch: %d of %d documents, %d bytes, in %s\n", kept, len(names), buf.Len(), out)
}

func get(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}
