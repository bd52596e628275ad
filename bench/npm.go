package main

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
)

// packuments is the corpus: npm registry documents, one per line (see
// testdata/npm/README.md for where and when they were fetched).
//
//go:embed testdata/npm/packuments.jsonl
var packuments []byte

// Packument is an npm package document as a service would cache it: the
// registry's JSON decoded into a struct. Fields that only describe a
// package's own tooling (lint and test configuration) are left out; the
// JSON baseline is this struct's JSON, so both hold the same information.
// Fields whose JSON type varies between packages are any.
type Packument struct {
	ID       string              `json:"_id" msgpack:"_id"`
	Name     string              `json:"name" msgpack:"name"`
	DistTags map[string]string   `json:"dist-tags" msgpack:"dist-tags"`
	Versions map[string]Manifest `json:"versions" msgpack:"versions"`
	Time     map[string]string   `json:"time" msgpack:"time"`
}

// Manifest is one version of a package.
type Manifest struct {
	Name                 string            `json:"name" msgpack:"name"`
	Version              string            `json:"version" msgpack:"version"`
	Description          string            `json:"description,omitempty" msgpack:"description,omitempty"`
	ID                   string            `json:"_id,omitempty" msgpack:"_id,omitempty"`
	Main                 string            `json:"main,omitempty" msgpack:"main,omitempty"`
	Types                string            `json:"types,omitempty" msgpack:"types,omitempty"`
	Type                 string            `json:"type,omitempty" msgpack:"type,omitempty"`
	Module               string            `json:"module,omitempty" msgpack:"module,omitempty"`
	License              any               `json:"license,omitempty" msgpack:"license,omitempty"`
	Author               any               `json:"author,omitempty" msgpack:"author,omitempty"`
	Contributors         any               `json:"contributors,omitempty" msgpack:"contributors,omitempty"`
	Repository           any               `json:"repository,omitempty" msgpack:"repository,omitempty"`
	Bugs                 any               `json:"bugs,omitempty" msgpack:"bugs,omitempty"`
	Homepage             any               `json:"homepage,omitempty" msgpack:"homepage,omitempty"`
	Funding              any               `json:"funding,omitempty" msgpack:"funding,omitempty"`
	Keywords             []string          `json:"keywords,omitempty" msgpack:"keywords,omitempty"`
	Files                any               `json:"files,omitempty" msgpack:"files,omitempty"`
	Bin                  any               `json:"bin,omitempty" msgpack:"bin,omitempty"`
	Exports              any               `json:"exports,omitempty" msgpack:"exports,omitempty"`
	Engines              any               `json:"engines,omitempty" msgpack:"engines,omitempty"`
	Scripts              map[string]string `json:"scripts,omitempty" msgpack:"scripts,omitempty"`
	Dependencies         map[string]string `json:"dependencies,omitempty" msgpack:"dependencies,omitempty"`
	DevDependencies      map[string]string `json:"devDependencies,omitempty" msgpack:"devDependencies,omitempty"`
	PeerDependencies     map[string]string `json:"peerDependencies,omitempty" msgpack:"peerDependencies,omitempty"`
	OptionalDependencies map[string]string `json:"optionalDependencies,omitempty" msgpack:"optionalDependencies,omitempty"`
	Dist                 Dist              `json:"dist" msgpack:"dist"`
}

// Dist is where a version's tarball is.
type Dist struct {
	Integrity string `json:"integrity,omitempty" msgpack:"integrity,omitempty"`
	Shasum    string `json:"shasum,omitempty" msgpack:"shasum,omitempty"`
	Tarball   string `json:"tarball,omitempty" msgpack:"tarball,omitempty"`
}

// Release is a small API object cut from a packument: one version as a
// "GET /packages/:name/:version" endpoint would answer it.
type Release struct {
	Name         string            `json:"name" msgpack:"name"`
	Version      string            `json:"version" msgpack:"version"`
	Description  string            `json:"description,omitempty" msgpack:"description,omitempty"`
	License      any               `json:"license,omitempty" msgpack:"license,omitempty"`
	Author       any               `json:"author,omitempty" msgpack:"author,omitempty"`
	Repository   any               `json:"repository,omitempty" msgpack:"repository,omitempty"`
	Homepage     any               `json:"homepage,omitempty" msgpack:"homepage,omitempty"`
	Keywords     []string          `json:"keywords,omitempty" msgpack:"keywords,omitempty"`
	Dependencies map[string]string `json:"dependencies,omitempty" msgpack:"dependencies,omitempty"`
	Engines      any               `json:"engines,omitempty" msgpack:"engines,omitempty"`
	Published    string            `json:"published,omitempty" msgpack:"published,omitempty"`
	Dist         Dist              `json:"dist" msgpack:"dist"`
}

// npmCorpus is the corpus split by package: documents and releases of
// packages at even positions train (the automatic dictionary's sample),
// those at odd positions are held out and are all the report measures.
type npmCorpus struct {
	trainDocs, heldDocs         []Packument
	trainReleases, heldReleases []Release
	jsonBytes                   int // of the file, as fetched and compacted
}

func loadNPM() (*npmCorpus, error) {
	c := &npmCorpus{jsonBytes: len(packuments)}
	sc := bufio.NewScanner(bytes.NewReader(packuments))
	sc.Buffer(nil, 1<<20)
	for i := 0; sc.Scan(); i++ {
		var p Packument
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("corpus line %d: %w", i+1, err)
		}
		for v, m := range p.Versions {
			p.Versions[v] = m.withoutEmpty()
		}
		rs := releases(p)
		if i%2 == 0 {
			c.trainDocs, c.trainReleases = append(c.trainDocs, p), append(c.trainReleases, rs...)
		} else {
			c.heldDocs, c.heldReleases = append(c.heldDocs, p), append(c.heldReleases, rs...)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(c.heldDocs) == 0 {
		return nil, fmt.Errorf("the corpus is empty")
	}
	return c, nil
}

// withoutEmpty drops empty values from the fields of type any (some
// manifests say "repository": "" or "bin": {}). msgpack's omitempty leaves
// them out where encoding/json keeps them, so they would not survive a
// round trip through the cache; they carry no information either way.
func (m Manifest) withoutEmpty() Manifest {
	for _, f := range []*any{&m.License, &m.Author, &m.Contributors, &m.Repository, &m.Bugs, &m.Homepage,
		&m.Funding, &m.Files, &m.Bin, &m.Exports, &m.Engines} {
		switch v := (*f).(type) {
		case string:
			if v == "" {
				*f = nil
			}
		case map[string]any:
			if len(v) == 0 {
				*f = nil
			}
		case []any:
			if len(v) == 0 {
				*f = nil
			}
		}
	}
	return m
}

// releases cuts one Release per version of p, in version order.
func releases(p Packument) []Release {
	vs := make([]string, 0, len(p.Versions))
	for v := range p.Versions {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	out := make([]Release, 0, len(vs))
	for _, v := range vs {
		m := p.Versions[v]
		out = append(out, Release{
			Name: m.Name, Version: m.Version, Description: m.Description, License: m.License,
			Author: m.Author, Repository: m.Repository, Homepage: m.Homepage, Keywords: m.Keywords,
			Dependencies: m.Dependencies, Engines: m.Engines, Published: p.Time[v], Dist: m.Dist,
		})
	}
	return out
}
