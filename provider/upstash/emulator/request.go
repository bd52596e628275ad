package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// The parsers below read bytes from the network: they return an error for
// anything that is not a command, never panic, and allocate in proportion to
// their input (which the handler bounds by Options.MaxRequestBytes).

// parseCommand parses the body of `POST /`: one JSON array whose first
// element is the command name, e.g. ["SET","k","v","EX",60].
func parseCommand(body []byte) ([]string, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("ERR failed to parse command: the body must be a JSON array of strings and numbers, such as [\"SET\",\"key\",\"value\"] (%s)", jsonProblem(err))
	}
	return commandArgs(raw, -1)
}

// parseCommands parses the body of `POST /pipeline` and `POST /multi-exec`:
// a JSON array of command arrays, e.g. [["SET","a","1"],["GET","a"]].
func parseCommands(body []byte) ([][]string, error) {
	var raw [][]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("ERR failed to parse commands: the body must be a JSON array of command arrays, such as [[\"SET\",\"a\",\"1\"],[\"GET\",\"a\"]] (%s)", jsonProblem(err))
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("ERR failed to parse commands: no command in the request")
	}
	cmds := make([][]string, len(raw))
	for i, r := range raw {
		args, err := commandArgs(r, i)
		if err != nil {
			return nil, err
		}
		cmds[i] = args
	}
	return cmds, nil
}

// commandArgs turns the JSON elements of one command into its arguments.
// index is the command's position in a pipeline, or -1 for a single command.
func commandArgs(raw []json.RawMessage, index int) ([]string, error) {
	where := ""
	if index >= 0 {
		where = fmt.Sprintf(" of command %d", index+1)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("ERR failed to parse command: the command%s is empty", where)
	}
	args := make([]string, len(raw))
	for i, r := range raw {
		a, err := jsonArg(r)
		if err != nil {
			return nil, fmt.Errorf("ERR failed to parse command: argument %d%s %s (send strings and numbers)", i+1, where, err.Error())
		}
		args[i] = a
	}
	return args, nil
}

// jsonArg converts one element of a command array. Strings are unescaped;
// numbers are kept exactly as written (60, 1.5, 1e3), so Redis parses them;
// booleans become "true" and "false", as the JSON text of the TypeScript
// client's boolean arguments. null, arrays and objects are refused.
func jsonArg(r json.RawMessage) (string, error) {
	if len(r) == 0 {
		return "", fmt.Errorf("is missing")
	}
	switch r[0] {
	case '"':
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return "", fmt.Errorf("is not a valid JSON string")
		}
		return s, nil
	case 't', 'f':
		return string(r), nil
	case 'n':
		return "", fmt.Errorf("is null")
	case '[', '{':
		return "", fmt.Errorf("is a JSON %s", map[byte]string{'[': "array", '{': "object"}[r[0]])
	}
	return string(r), nil // a number: json.Unmarshal has validated it
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("a JSON %s where an array was expected", typ.Value)
	}
	return "invalid JSON"
}

// parsePath parses the path form of a command: /set/key/value, each segment
// percent-decoded, then the request body (when hasBody) as one more argument,
// then the query parameters in their order, each as its name and, when not
// empty, its value (?EX=100 adds "EX","100"). The `_token` parameter is
// authentication, not an argument.
func parsePath(escapedPath, rawQuery string, body []byte, hasBody bool) ([]string, error) {
	p := strings.TrimPrefix(escapedPath, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, fmt.Errorf("ERR failed to parse command: no command in the path (use /COMMAND/arg1/arg2, or POST a JSON array to /)")
	}
	segs := strings.Split(p, "/")
	args := make([]string, 0, len(segs)+2)
	for i, s := range segs {
		a, err := url.PathUnescape(s)
		if err != nil {
			return nil, fmt.Errorf("ERR failed to parse command: path segment %d is not valid percent-encoding", i+1)
		}
		args = append(args, a)
	}
	if hasBody {
		args = append(args, string(body))
	}
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("ERR failed to parse command: a query parameter name is not valid percent-encoding")
		}
		if name == tokenParam {
			continue
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("ERR failed to parse command: the value of query parameter %q is not valid percent-encoding", name)
		}
		args = append(args, name)
		if value != "" {
			args = append(args, value)
		}
	}
	return args, nil
}
