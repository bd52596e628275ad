package codec_test

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aside-go/aside/codec"
)

func Example() {
	type Profile struct {
		ID    int64
		Name  string
		Roles []string
	}
	c, err := codec.New(codec.Options{}) // zstd, msgpack, raw below 256 bytes
	if err != nil {
		panic(err)
	}
	frame, rawSize, err := c.Marshal(nil, Profile{ID: 42, Name: "Ada Lovelace", Roles: []string{"admin"}})
	if err != nil {
		panic(err)
	}
	var p Profile
	if err := c.Unmarshal(frame, &p); err != nil {
		panic(err)
	}
	fmt.Println(p.Name, p.Roles, "serialized:", rawSize, "frame:", len(frame))
	// Output: Ada Lovelace [admin] serialized: 44 frame: 57
}

func ExampleCodec_Marshal_compressed() {
	c := codec.Must(codec.Options{Compression: codec.Zstd})
	doc := strings.Repeat("cache-aside keeps hot reads off the database. ", 100)
	frame, rawSize, err := c.Marshal(nil, doc)
	if err != nil {
		panic(err)
	}
	fmt.Println("compressed:", len(frame) < rawSize/10)

	// Any Codec reads any frame, whatever algorithm wrote it.
	var back string
	if err := codec.Must(codec.Options{Compression: codec.S2}).Unmarshal(frame, &back); err != nil {
		panic(err)
	}
	fmt.Println("round trip:", back == doc)
	// Output:
	// compressed: true
	// round trip: true
}

func ExampleCodec_Unmarshal_errors() {
	c := codec.Must(codec.Options{})
	var v string
	err := c.Unmarshal([]byte("not a frame"), &v)
	fmt.Println(errors.Is(err, codec.ErrBadMagic))
	err = c.Unmarshal([]byte{0xA5, 9, 0, 0, 0}, &v)
	fmt.Println(errors.Is(err, codec.ErrVersion))
	// Output:
	// true
	// true
}

func ExampleParseAlgorithm() {
	a, err := codec.ParseAlgorithm(" S2 ")
	fmt.Println(a, err)
	_, err = codec.ParseAlgorithm("brotli")
	fmt.Println(err)
	// Output:
	// s2 <nil>
	// aside: codec: unknown compression algorithm: "brotli" (accepted: zstd, s2, gzip, none)
}

func ExampleAppendCompressed() {
	body := []byte(strings.Repeat(`{"status":"ok"}`, 200))
	gz, err := codec.AppendCompressed(nil, body, codec.Gzip, 0)
	if err != nil {
		panic(err)
	}
	// A standard gzip stream: what a client does with Content-Encoding: gzip.
	zr, err := stdgzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		panic(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(body), "->", len(gz) < 200, bytes.Equal(plain, body))
	// Output: 3000 -> true true
}
