package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// User is the entity: the small value most caches hold most of.
type User struct {
	ID    int64
	Name  string
	Email string
	Roles []string
	Bio   string
}

// UsersPage is one page of a user listing.
type UsersPage struct {
	Users   []User `msgpack:"users"`
	Page    int    `msgpack:"page"`
	PerPage int    `msgpack:"per_page"`
	Total   int    `msgpack:"total"`
}

// Product is one record of a JSON API response. The msgpack names are the
// JSON names, as an API type usually has.
type Product struct {
	ID          int64    `json:"id" msgpack:"id"`
	SKU         string   `json:"sku" msgpack:"sku"`
	Name        string   `json:"name" msgpack:"name"`
	Description string   `json:"description" msgpack:"description"`
	Price       float64  `json:"price" msgpack:"price"`
	Currency    string   `json:"currency" msgpack:"currency"`
	Tags        []string `json:"tags" msgpack:"tags"`
	Rating      float64  `json:"rating" msgpack:"rating"`
	Stock       int      `json:"stock" msgpack:"stock"`
}

// ProductsResponse is the decoded body of GET /products?page=N.
type ProductsResponse struct {
	Data []Product `json:"data" msgpack:"data"`
	Meta struct {
		Page    int    `json:"page" msgpack:"page"`
		PerPage int    `json:"per_page" msgpack:"per_page"`
		Total   int    `json:"total" msgpack:"total"`
		Next    string `json:"next" msgpack:"next"`
	} `json:"meta" msgpack:"meta"`
}

var (
	firstNames = strings.Fields(`Ada Alan Grace Edsger Barbara Donald Margaret Linus Ken Dennis
		Frances Radia Leslie John Sophie Tim Katherine Niklaus Hedy Bjarne Guido Rob Anita
		Shafi Tony Jean Fran Lynn Carl Mary`)
	lastNames = strings.Fields(`Lovelace Turing Hopper Dijkstra Liskov Knuth Hamilton Torvalds
		Thompson Ritchie Allen Perlman Lamport McCarthy Wilson Berners-Lee Johnson Wirth Lamarr
		Stroustrup Rossum Pike Borg Goldwasser Hoare Sammet Conway Keller Kernighan Shaw`)
	domains = strings.Fields(`example.com mail.example.org corp.example.net
		users.example.io example.co.uk staff.example.dev`)
	roles = strings.Fields(`admin editor viewer billing support owner auditor developer`)
	jobs  = strings.Fields(`Engineer Designer Analyst Researcher Manager Writer Architect
		Consultant Teacher Scientist`)
	fields = []string{"distributed systems", "compilers", "databases", "type theory",
		"accessibility", "cryptography", "networking", "numerical methods", "user research",
		"operations"}
	cities = strings.Fields(`Berlin Lisbon Toronto Nairobi Osaka Austin Dublin Melbourne
		Warsaw Bogota Seoul Oslo`)
	adjectives = strings.Fields(`Classic Compact Deluxe Ergonomic Everyday Lightweight Premium
		Rugged Smart Vintage Wireless Eco`)
	nouns = strings.Fields(`Backpack Bottle Chair Desk Headphones Jacket Kettle Keyboard Lamp
		Mug Notebook Speaker Teapot Tent Watch`)
	materials = strings.Fields(`bamboo steel aluminium cotton leather oak recycled-plastic
		ceramic wool glass`)
	productTags = strings.Fields(`new sale bestseller eco gift outdoor office kitchen travel
		home limited bundle clearance handmade premium`)
	phrases = []string{
		"Built to last with %s and a clean, minimal finish.",
		"Our customers love it for everyday use at home or in the office.",
		"Ships in recyclable packaging within two business days.",
		"Made from %s, tested for durability and comfort.",
		"Includes a two-year warranty and free returns within 30 days.",
		"Available in several colours; see the size guide for details.",
		"A favourite for travel: light, compact and easy to clean.",
		"Pairs well with the rest of the %s collection.",
	}
	paths = []string{"/api/products", "/api/products/%d", "/api/users/%d", "/api/orders",
		"/api/orders/%d", "/api/cart", "/healthz", "/api/search"}
	levels = []string{"INFO", "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}
)

func pick(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

// newUser returns a user with an ~85-character bio.
func newUser(r *rand.Rand, id int64) User {
	first, last := pick(r, firstNames), pick(r, lastNames)
	u := User{
		ID:    id,
		Name:  first + " " + last,
		Email: strings.ToLower(first+"."+last) + "@" + pick(r, domains),
		Roles: []string{pick(r, roles)},
		Bio: fmt.Sprintf("%s at a %s studio in %s, working on %s and %s since %d.",
			pick(r, jobs), strings.ToLower(pick(r, adjectives)), pick(r, cities),
			pick(r, fields), pick(r, fields),
			2000+r.IntN(25)),
	}
	if r.IntN(3) == 0 {
		u.Roles = append(u.Roles, pick(r, roles))
	}
	return u
}

func newProduct(r *rand.Rand, id int64) Product {
	var d strings.Builder
	for i := range 2 + r.IntN(2) {
		if i > 0 {
			d.WriteByte(' ')
		}
		p := pick(r, phrases)
		if strings.Contains(p, "%s") {
			p = fmt.Sprintf(p, pick(r, materials))
		}
		d.WriteString(p)
	}
	return Product{
		ID:          id,
		SKU:         fmt.Sprintf("SKU-%06d", r.IntN(1e6)),
		Name:        pick(r, adjectives) + " " + pick(r, nouns),
		Description: d.String(),
		Price:       float64(500+r.IntN(50000)) / 100,
		Currency:    "EUR",
		Tags:        []string{pick(r, productTags), pick(r, productTags)},
		Rating:      float64(30+r.IntN(21)) / 10,
		Stock:       r.IntN(500),
	}
}

// newUsersPage returns page 1 of a listing of n users.
func newUsersPage(r *rand.Rand, n int) UsersPage {
	p := UsersPage{Page: 1, PerPage: n, Total: 1000 + r.IntN(9000)}
	for i := range n {
		p.Users = append(p.Users, newUser(r, int64(1000+i)))
	}
	return p
}

// newProductsResponse adds products until the response's JSON is at least
// jsonSize bytes.
func newProductsResponse(r *rand.Rand, jsonSize int) ProductsResponse {
	var resp ProductsResponse
	resp.Meta.Page, resp.Meta.Total = 1, 5000
	size := 0
	for size < jsonSize {
		resp.Data = append(resp.Data, newProduct(r, int64(10000+len(resp.Data))))
		resp.Meta.PerPage = len(resp.Data)
		resp.Meta.Next = fmt.Sprintf("/api/products?page=2&per_page=%d", len(resp.Data))
		b, err := json.Marshal(resp)
		if err != nil {
			panic(err) // a plain struct always encodes
		}
		size = len(b)
	}
	return resp
}

// newHTMLPage returns a server-rendered product listing of at least size bytes.
func newHTMLPage(r *rand.Rand, size int) string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Products | Example Shop</title>
<link rel="stylesheet" href="/static/css/main.4f9c2e1a.css">
<script defer src="/static/js/app.83b0d7f2.js"></script>
</head>
<body>
<header class="site-header"><nav><a href="/">Home</a> <a href="/products">Products</a> <a href="/cart">Cart</a> <a href="/account">Account</a></nav></header>
<main class="container"><h1>All products</h1>
<ul class="product-grid">
`)
	for id := int64(1); b.Len() < size; id++ {
		p := newProduct(r, id)
		fmt.Fprintf(&b, `<li class="product-card" data-id="%d">
  <a href="/products/%d"><img src="/img/products/%d-480w.jpg" alt="%s" width="480" height="360" loading="lazy"></a>
  <h2 class="product-title"><a href="/products/%d">%s</a></h2>
  <p class="product-description">%s</p>
  <p class="product-price"><span class="amount">%.2f</span> <span class="currency">%s</span></p>
  <button class="btn btn-primary add-to-cart" data-sku="%s">Add to cart</button>
</li>
`, p.ID, p.ID, p.ID, p.Name, p.ID, p.Name, p.Description, p.Price, p.Currency, p.SKU)
	}
	b.WriteString("</ul></main>\n<footer class=\"site-footer\"><p>&copy; Example Shop</p></footer>\n</body>\n</html>\n")
	return b.String()
}

// newLogText returns at least size bytes of structured request logs.
func newLogText(r *rand.Rand, size int) string {
	var b strings.Builder
	ms := int64(1_750_000_000_000)
	for b.Len() < size {
		ms += int64(r.IntN(40))
		path := pick(r, paths)
		if strings.Contains(path, "%d") {
			path = fmt.Sprintf(path, r.IntN(100000))
		}
		status := 200
		if n := r.IntN(20); n == 0 {
			status = 500
		} else if n < 3 {
			status = 404
		}
		fmt.Fprintf(&b, "ts=%d.%03d level=%s msg=\"http request\" method=GET path=%s status=%d dur_ms=%.2f bytes=%d req_id=%016x user_id=%d\n",
			ms/1000, ms%1000, pick(r, levels), path, status, r.Float64()*40, r.IntN(64<<10), r.Uint64(), r.IntN(100000))
	}
	return b.String()
}

// newRandomBytes stands for values that are already compressed or encrypted
// (images, gzip bodies, ciphertext).
func newRandomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func seeded(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(20240601, stream)) }
