// Drives the official @upstash/redis client, unchanged, against the emulator.
// Run by ../../compat_test.go, which starts redis-server and the emulator and
// passes their coordinates in the environment:
//   UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN  the emulator and its token
//   EMULATOR_READONLY_TOKEN                           its read-only token
//   EMULATOR_KEY_PREFIX                               keys this run owns
// The tests run one after another (node:test's default within a file), so the
// billing counters read through /_emulator/stats belong to one test at a time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";

const url = process.env.UPSTASH_REDIS_REST_URL;
const token = process.env.UPSTASH_REDIS_REST_TOKEN;
const roToken = process.env.EMULATOR_READONLY_TOKEN;
const P = process.env.EMULATOR_KEY_PREFIX ?? "compat:";
if (!url || !token || !roToken) {
  throw new Error("run through compat_test.go: UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN and EMULATOR_READONLY_TOKEN must be set");
}

// One client per behaviour under test. The default client auto-pipelines and
// asks for base64 replies, as the package does out of the box.
const auto = new Redis({ url, token });
const plain = new Redis({ url, token, enableAutoPipelining: false });
const verbatim = new Redis({ url, token, enableAutoPipelining: false, automaticDeserialization: false });
const utf8 = new Redis({ url, token, enableAutoPipelining: false, automaticDeserialization: false, responseEncoding: false });
const ro = new Redis({ url, token: roToken, enableAutoPipelining: false });

async function admin(path, body) {
  const res = await fetch(url + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
  return res.json();
}
const stats = () => admin("/_emulator/stats");
const resetStats = () => admin("/_emulator/stats/reset", {});
const setFaults = (f) => admin("/_emulator/faults", f);

test("strings", async () => {
  const k = P + "str:";
  assert.equal(await plain.set(k + "a", "hello"), "OK");
  assert.equal(await plain.get(k + "a"), "hello");
  assert.equal(await plain.set(k + "a", "other", { nx: true }), null);
  assert.equal(await plain.set(k + "n", 41), "OK");
  assert.equal(await plain.incr(k + "n"), 42);
  assert.equal(await plain.incrby(k + "n", 8), 50);
  assert.equal(await plain.decr(k + "n"), 49);
  assert.equal(await plain.get(k + "n"), 49);
  assert.equal(await plain.set(k + "e", "v", { ex: 100 }), "OK");
  const ttl = await plain.ttl(k + "e");
  assert.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
  assert.equal(await plain.mset({ [k + "m1"]: "one", [k + "m2"]: { nested: [1, 2] } }), "OK");
  assert.deepEqual(await plain.mget(k + "m1", k + "m2", k + "missing"), ["one", { nested: [1, 2] }, null]);
  assert.equal(await plain.append(k + "a", "!"), 6);
  assert.equal(await plain.getrange(k + "a", 0, 4), "hello");
  assert.equal(await plain.strlen(k + "a"), 6);
  assert.equal(await plain.getdel(k + "m1"), "one");
  assert.equal(await plain.exists(k + "a", k + "m1"), 1);
  assert.equal(await plain.expire(k + "a", 50), 1);
  assert.equal(await plain.persist(k + "a"), 1);
  assert.equal(await plain.type(k + "a"), "string");
  assert.equal(await plain.del(k + "a", k + "n", k + "missing"), 2);
  assert.equal(await plain.get(k + "a"), null);
});

test("hashes", async () => {
  const k = P + "hash";
  assert.equal(await plain.hset(k, { f1: "v1", f2: 2, f3: { a: 1 } }), 3);
  assert.equal(await plain.hget(k, "f1"), "v1");
  assert.deepEqual(await plain.hgetall(k), { f1: "v1", f2: 2, f3: { a: 1 } });
  assert.equal(await plain.hincrby(k, "f2", 5), 7);
  assert.deepEqual(await plain.hmget(k, "f1", "nope"), { f1: "v1", nope: null });
  assert.deepEqual((await plain.hkeys(k)).sort(), ["f1", "f2", "f3"]);
  assert.equal(await plain.hlen(k), 3);
  assert.equal(await plain.hexists(k, "f3"), 1);
  assert.equal(await plain.hdel(k, "f1", "nope"), 1);
  assert.equal(await plain.hget(k, "f1"), null);
});

test("sets", async () => {
  const k = P + "set";
  assert.equal(await plain.sadd(k, "a", "b", "c"), 3);
  assert.deepEqual((await plain.smembers(k)).sort(), ["a", "b", "c"]);
  assert.equal(await plain.sismember(k, "b"), 1);
  assert.equal(await plain.srem(k, "b", "zz"), 1);
  assert.equal(await plain.scard(k), 2);
  assert.deepEqual(await plain.smismember(k, ["a", "b"]), [1, 0]);
});

test("sorted sets", async () => {
  const k = P + "zset";
  assert.equal(await plain.zadd(k, { score: 1, member: "one" }, { score: 2, member: "two" }, { score: 3.5, member: "three" }), 3);
  assert.deepEqual(await plain.zrange(k, 0, -1), ["one", "two", "three"]);
  assert.deepEqual(await plain.zrange(k, 0, 1, { withScores: true }), ["one", 1, "two", 2]);
  assert.equal(await plain.zscore(k, "three"), 3.5);
  assert.equal(await plain.zincrby(k, 10, "one"), 11);
  assert.equal(await plain.zrank(k, "one"), 2);
  assert.deepEqual(await plain.zrange(k, 2, 4, { byScore: true }), ["two", "three"]);
  assert.equal(await plain.zcard(k), 3);
  assert.equal(await plain.zrem(k, "two"), 1);
  assert.equal(await plain.zcount(k, "-inf", "+inf"), 2);
});

test("lists", async () => {
  const k = P + "list";
  assert.equal(await plain.rpush(k, "a", "b"), 2);
  assert.equal(await plain.lpush(k, "z"), 3);
  assert.deepEqual(await plain.lrange(k, 0, -1), ["z", "a", "b"]);
  assert.equal(await plain.lindex(k, 1), "a");
  assert.equal(await plain.lpop(k), "z");
  assert.equal(await plain.rpop(k), "b");
  assert.equal(await plain.llen(k), 1);
  assert.equal(await plain.lpos(k, "a"), 0);
});

test("more string and key commands", async () => {
  const k = P + "keys:";
  assert.equal(await plain.set(k + "a", "abc"), "OK");
  assert.equal(await plain.copy(k + "a", k + "b"), "COPIED");
  assert.equal(await plain.copy(k + "a", k + "b"), "NOT_COPIED");
  assert.equal(await plain.getex(k + "b", { ex: 100 }), "abc");
  const pttl = await plain.pttl(k + "b");
  assert.ok(pttl > 90_000 && pttl <= 100_000, `pttl ${pttl}`);
  assert.equal(await plain.set(k + "a", "new", { get: true }), "abc");
  assert.equal(await plain.set(k + "a", "kept", { keepTtl: true }), "OK");
  assert.equal(await plain.setrange(k + "a", 1, "EE"), 4);
  assert.equal(await plain.get(k + "a"), "kEEt");
  assert.equal(await plain.incrbyfloat(k + "f", 1.25), 1.25);
  assert.equal(await plain.msetnx({ [k + "x"]: "1", [k + "a"]: "2" }), 0);
  assert.equal(await plain.touch(k + "a", k + "b", k + "none"), 2);
  assert.equal(await plain.rename(k + "b", k + "c"), "OK");
  assert.equal(await plain.renamenx(k + "c", k + "a"), 0);
  assert.equal(await plain.unlink(k + "c"), 1);
  assert.equal(await plain.setbit(k + "bits", 7, 1), 0);
  assert.equal(await plain.getbit(k + "bits", 7), 1);
  assert.equal(await plain.bitcount(k + "bits", 0, -1), 1);
  assert.equal(await plain.bitpos(k + "bits", 1), 7);
  assert.equal(await plain.bitop("or", k + "bits2", k + "bits", k + "bits"), 1);
  const [secs, micros] = await plain.time();
  assert.ok(Math.abs(secs - Date.now() / 1000) < 60 && micros >= 0 && micros < 1e6, `time ${secs} ${micros}`);
  assert.equal(await plain.echo("echo!"), "echo!");
  assert.ok(await plain.dbsize() >= 3);
});

test("hashes, sets, sorted sets and lists beyond the basics", async () => {
  const h = P + "more:hash";
  await plain.hset(h, { a: 1, b: "x" });
  assert.equal(await plain.hsetnx(h, "a", 2), 0);
  assert.equal(await plain.hincrbyfloat(h, "a", 1.5), 2.5);
  assert.equal(await plain.hstrlen(h, "b"), 1);
  assert.deepEqual((await plain.hvals(h)).map(String).sort(), ["2.5", "x"]);
  const [cursor, fields] = await plain.hscan(h, 0);
  assert.equal(String(cursor), "0");
  assert.equal(fields.length, 4);
  assert.deepEqual(await plain.hrandfield(h, 2, true), { a: 2.5, b: "x" });

  const s = P + "more:set";
  await plain.sadd(s, "a", "b", "c");
  await plain.sadd(s + "2", "b", "c", "d");
  assert.deepEqual((await plain.sinter(s, s + "2")).sort(), ["b", "c"]);
  assert.deepEqual((await plain.sunion(s, s + "2")).sort(), ["a", "b", "c", "d"]);
  assert.deepEqual(await plain.sdiff(s, s + "2"), ["a"]);
  assert.equal(await plain.sintercard([s, s + "2"]), 2);
  assert.equal(await plain.smove(s, s + "2", "a"), 1);
  assert.equal(await plain.sdiffstore(s + "3", s + "2", s), 2);

  const z = P + "more:zset";
  await plain.zadd(z, { score: 1, member: "a" }, { score: 2.5, member: "b" }, { score: 4, member: "c" });
  assert.equal(await plain.zadd(z, { incr: true }, { score: 1, member: "a" }), 2);
  assert.deepEqual(await plain.zmscore(z, ["a", "nope"]), [2, null]);
  assert.deepEqual(await plain.zrange(z, 0, -1, { rev: true }), ["c", "b", "a"]);
  assert.equal(await plain.zrevrank(z, "c"), 0);
  assert.equal(await plain.zlexcount(z, "-", "+"), 3);
  assert.deepEqual(await plain.zpopmax(z, 1), ["c", 4]);
  assert.deepEqual(await plain.zunion(1, [z], { withScores: true }), ["a", 2, "b", 2.5]);
  assert.equal(await plain.zunionstore(z + "2", 1, [z]), 2);
  assert.equal(await plain.zremrangebyscore(z + "2", 0, 2), 1);

  const l = P + "more:list";
  await plain.rpush(l, "a", "b", "c", "b");
  assert.equal(await plain.lpos(l, "b", { rank: 2 }), 3);
  assert.equal(await plain.linsert(l, "before", "c", "x"), 5);
  assert.equal(await plain.lset(l, 0, "A"), "OK");
  assert.equal(await plain.lrem(l, 0, "b"), 2);
  assert.equal(await plain.ltrim(l, 0, 1), "OK");
  assert.equal(await plain.lmove(l, l + "2", "left", "right"), "A");
  assert.deepEqual(await plain.lmpop(1, [l], "LEFT", 5), [l, ["x"]]);
});

test("streams, geo and hyperloglog", async () => {
  const x = P + "stream";
  const id = await plain.xadd(x, "*", { a: 1, b: "two" });
  assert.match(id, /^\d+-\d+$/);
  assert.deepEqual(await plain.xrange(x, "-", "+"), { [id]: { a: 1, b: "two" } });
  assert.equal(await plain.xlen(x), 1);
  assert.equal(await plain.xgroup(x, { type: "CREATE", group: "g", id: "0" }), "OK");
  assert.deepEqual(await plain.xreadgroup("g", "c1", x, ">"), [[x, [[id, ["a", 1, "b", "two"]]]]]);
  assert.equal(await plain.xack(x, "g", id), 1);
  assert.deepEqual(await plain.xread(x, "0"), [[x, [[id, ["a", 1, "b", "two"]]]]]);
  await assert.rejects(plain.exec(["XREAD", "BLOCK", "10", "STREAMS", x, "$"]), /Command is not available/);
  assert.equal(await plain.xtrim(x, { strategy: "MAXLEN", threshold: 0 }), 1);

  const g = P + "geo";
  assert.equal(await plain.geoadd(g, { longitude: 13.361389, latitude: 38.115556, member: "Palermo" }, { longitude: 15.087269, latitude: 37.502669, member: "Catania" }), 2);
  assert.equal(await plain.geodist(g, "Palermo", "Catania", "KM"), 166.2742);
  assert.deepEqual(await plain.geohash(g, "Palermo"), ["sqc8b49rny0"]);
  const [pos] = await plain.geopos(g, "Palermo");
  assert.ok(Math.abs(pos.lng - 13.361389) < 1e-5 && Math.abs(pos.lat - 38.115556) < 1e-5, JSON.stringify(pos));
  const near = await plain.geosearch(g, { type: "FROMLONLAT", coordinate: { lon: 15, lat: 37 } }, { type: "BYRADIUS", radius: 200, radiusType: "KM" }, "ASC", { withDist: true });
  assert.deepEqual(near.map((m) => m.member), ["Catania", "Palermo"]);

  const hll = P + "hll";
  assert.equal(await plain.pfadd(hll, "a", "b", "c"), 1);
  assert.equal(await plain.pfcount(hll), 3);
  assert.equal(await plain.pfmerge(hll + "2", hll), "OK");
});

test("functions", async () => {
  const lib = "compat_" + P.replace(/[^A-Za-z0-9]/g, "_");
  const code = `#!lua name=${lib}\nredis.register_function('${lib}_echo', function(keys, args) return args[1] end)\n` +
    `redis.register_function{function_name='${lib}_ro', callback=function(keys, args) return #keys end, flags={'no-writes'}}`;
  assert.equal(await plain.functions.load({ code, replace: true }), lib);
  try {
    assert.equal(await plain.functions.call(`${lib}_echo`, [], ["hello"]), "hello");
    assert.equal(await plain.functions.callRo(`${lib}_ro`, [P + "f1", P + "f2"], []), 2);
    const libs = await plain.functions.list({ libraryName: lib });
    assert.equal(libs.length, 1);
    assert.deepEqual(libs[0].functions.map((f) => f.name).sort(), [`${lib}_echo`, `${lib}_ro`]);
  } finally {
    assert.equal(await plain.functions.delete(lib), "OK");
  }
});

test("scan withType (an Upstash option Redis lacks)", async () => {
  const k = P + "typed:";
  await plain.set(k + "s", "v");
  await plain.hset(k + "h", { f: 1 });
  await plain.zadd(k + "z", { score: 1, member: "m" });
  const found = [];
  let cursor = "0";
  do {
    const [next, entries] = await plain.scan(cursor, { match: k + "*", count: 1000, withType: true });
    found.push(...entries);
    cursor = String(next);
  } while (cursor !== "0");
  found.sort((a, b) => a.key.localeCompare(b.key));
  assert.deepEqual(found, [{ key: k + "h", type: "hash" }, { key: k + "s", type: "string" }, { key: k + "z", type: "zset" }]);
  const strings = await plain.exec(["SCAN", "0", "MATCH", k + "*", "COUNT", "1000", "TYPE", "string", "WITHTYPE"]);
  assert.deepEqual(strings[1], [k + "s", "string"], "TYPE and WITHTYPE together");
  const [[, piped]] = await plain.pipeline().scan(0, { match: k + "s", count: 1000, withType: true }).exec();
  assert.deepEqual(piped, [{ key: k + "s", type: "string" }]);
});

test("commands Upstash's REST API does not serve are refused in its words", async () => {
  for (const args of [["BLPOP", P + "q", "1"], ["WATCH", P + "q"], ["MULTI"], ["CLIENT", "SETNAME", "x"], ["SELECT", "1"]]) {
    await assert.rejects(plain.exec(args), /Command is not available: '/, args.join(" "));
  }
});

test("eval, evalsha and scripts", async () => {
  const k = P + "lua";
  assert.deepEqual(await plain.eval("return {KEYS[1], ARGV[1]}", [k], ["v"]), [k, "v"]);
  const sha = await plain.scriptLoad("return ARGV[1] .. '!'");
  assert.match(sha, /^[0-9a-f]{40}$/);
  assert.equal(await plain.evalsha(sha, [], ["hi"]), "hi!");
  assert.deepEqual(await plain.scriptExists(sha, "0".repeat(40)), [1, 0]);
  await assert.rejects(plain.evalsha("0".repeat(40), [], []), /NOSCRIPT/);

  // createScript: EVALSHA first, EVAL on NOSCRIPT.
  const s = plain.createScript("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  assert.equal(await s.exec([k + ":n"], ["2"]), 2);
  assert.equal(await s.exec([k + ":n"], ["3"]), 5);
});

test("scripts with allow-key-locking", async () => {
  const k = P + "locking";
  const body = "#!lua flags=allow-key-locking\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])";
  const s = plain.createScript(body);
  await resetStats();
  // The client's SHA is of the script with the flag: unknown at first
  // (NOSCRIPT, then EVAL), known to the emulator from then on.
  assert.equal(await s.exec([k], ["5"]), 5);
  assert.equal(await s.exec([k], ["5"]), 10);
  const st = await stats();
  assert.deepEqual(st.commands_by_name, { evalsha: 2, eval: 1 });
  assert.equal(st.command_errors, 1, "the first EVALSHA answered NOSCRIPT");
  assert.equal(await plain.scriptLoad(body), s.sha1);
  assert.deepEqual(await plain.scriptExists(s.sha1), [1]);
  assert.equal(await plain.evalsha(s.sha1, [k], ["1"]), 11);

  // Inside pipelines and transactions too.
  const p = plain.pipeline();
  p.evalsha(s.sha1, [k], ["1"]);
  p.get(k);
  assert.deepEqual(await p.exec(), [12, 12]);
  const tx = plain.multi();
  tx.evalsha(s.sha1, [k], ["1"]);
  tx.eval(body, [k], ["1"]);
  assert.deepEqual(await tx.exec(), [13, 14]);

  // Every key a flagged script touches must be declared in KEYS.
  const dyn = plain.createScript("#!lua flags=allow-key-locking\nreturn redis.call('GET', 'undeclared:' .. ARGV[1])");
  await assert.rejects(dyn.eval([k], ["x"]), /Dynamic keys are not allowed.*Key was: undeclared:x/);

  // Other flags survive; a read-only script runs with EVAL_RO/EVALSHA_RO.
  const r = plain.createScript("#!lua flags=no-writes,allow-key-locking\nreturn redis.call('GET', KEYS[1])", { readonly: true });
  assert.equal(await r.exec([k], []), 14);
  assert.equal(await r.exec([k], []), 14);
  await assert.rejects(
    plain.createScript("#!lua flags=no-writes,allow-key-locking\nreturn redis.call('SET', KEYS[1], 'x')").eval([k], []),
    /Write commands are not allowed from read-only scripts/,
  );
});

test("scan and keys", async () => {
  const k = P + "scan:";
  const want = [];
  const p = plain.pipeline();
  for (let i = 0; i < 25; i++) {
    p.set(k + i, i);
    want.push(k + i);
  }
  await p.exec();
  const seen = new Set();
  let cursor = "0";
  let rounds = 0;
  do {
    const [next, keys] = await plain.scan(cursor, { match: k + "*", count: 10 });
    keys.forEach((x) => seen.add(x));
    cursor = String(next);
    rounds++;
  } while (cursor !== "0" && rounds < 1000);
  assert.deepEqual([...seen].sort(), want.sort());
  assert.deepEqual((await plain.keys(k + "*")).sort(), want.sort());
});

test("pipelines", async () => {
  const k = P + "pipe";
  await resetStats();
  const p = plain.pipeline();
  p.set(k, "1").incr(k).get(k).hget(k, "f");
  const res = await p.exec({ keepErrors: true });
  assert.deepEqual(res.slice(0, 3).map((r) => r.result), ["OK", 2, 2]);
  assert.match(res[3].error, /^WRONGTYPE/);
  const st = await stats();
  assert.equal(st.requests, 1);
  assert.equal(st.commands, 4, "each command of a pipeline is billed");
  assert.equal(st.pipelines, 1);

  const q = plain.pipeline();
  q.get(k).hget(k, "f");
  await assert.rejects(q.exec(), /Command 2 \[ hget \] failed: WRONGTYPE/);
});

test("transactions", async () => {
  const k = P + "tx";
  await resetStats();
  const tx = plain.multi();
  tx.set(k, "a").append(k, "b").get(k);
  assert.deepEqual(await tx.exec(), ["OK", 2, "ab"]);
  let st = await stats();
  assert.equal(st.commands, 3);
  assert.equal(st.transactions, 1);

  // A runtime error inside a transaction does not stop the others.
  const t2 = plain.multi();
  t2.incr(k).get(k);
  const res = await t2.exec({ keepErrors: true });
  assert.match(res[0].error, /not an integer/);
  assert.equal(res[1].result, "ab");

  // A refused command discards the whole transaction: one error, nothing run.
  await resetStats();
  await assert.rejects(plain.multi().set(k, "x").flushall().exec(), /Command is not available: 'FLUSHALL'/);
  assert.equal(await plain.get(k), "ab");
  st = await stats();
  assert.equal(st.discarded_transactions, 1);
  assert.equal(st.commands, 1, "only the GET after it is billed");
});

test("auto-pipelining", async () => {
  const k = P + "auto:";
  const n = 50;
  const before = auto.pipelineCounter;
  await resetStats();
  const sets = await Promise.all(Array.from({ length: n }, (_, i) => auto.set(k + i, i)));
  assert.ok(sets.every((r) => r === "OK"));
  const gets = await Promise.all(Array.from({ length: n }, (_, i) => auto.get(k + i)));
  assert.deepEqual(gets, Array.from({ length: n }, (_, i) => i));
  const st = await stats();
  assert.equal(auto.pipelineCounter - before, 2, "one pipeline of writes, one of reads");
  assert.equal(st.requests, 2);
  assert.equal(st.pipelines, 2);
  assert.equal(st.commands, 2 * n, "each batched command is billed");
  assert.deepEqual(st.commands_by_name, { set: n, get: n });
  // A failing command fails alone.
  const [ok, bad] = await Promise.allSettled([auto.get(k + 0), auto.hget(k + 0, "f")]);
  assert.equal(ok.value, 0);
  assert.match(bad.reason.message, /WRONGTYPE/);
});

test("binary-ish values", async () => {
  const k = P + "bin:";
  const values = [
    "", "OK", "T0s=", "ünïcødé ✓ 🎉", "\u0000\u0001\u00ff\u007f", "{\"not\":\"closed\"",
    "007", "1e400", "null", "true", " spaced ", "line\nbreak\ttab\\slash\"quote", "x".repeat(1 << 20),
  ];
  for (const [i, v] of values.entries()) {
    assert.equal(await verbatim.set(k + i, v), "OK");
    assert.equal(await verbatim.get(k + i), v, `base64 reply of value ${i}`);
    assert.equal(await utf8.get(k + i), v, `plain JSON reply of value ${i}`);
  }
  const p = verbatim.pipeline();
  values.forEach((_, i) => p.get(k + i));
  assert.deepEqual(await p.exec(), values);
  assert.deepEqual(await verbatim.mget(...values.map((_, i) => k + i)), values);
  // "OK" stored as data and read through an array is not mistaken for a status.
  await verbatim.rpush(k + "list", "OK", "T0s=");
  assert.deepEqual(await verbatim.lrange(k + "list", 0, -1), ["OK", "T0s="]);
});

test("errors", async () => {
  const k = P + "err";
  await plain.set(k, "string");
  await assert.rejects(plain.hget(k, "f"), /WRONGTYPE/);
  await assert.rejects(plain.exec(["NOTACOMMAND", "x"]), /Command is not available: 'NOTACOMMAND'/);
  await assert.rejects(plain.exec(["SUBSCRIBE", "chan"]), /Command is not available: 'SUBSCRIBE'/);
  await assert.rejects(plain.flushall(), /Command is not available: 'FLUSHALL'/);
  await assert.rejects(plain.flushdb(), /Command is not available: 'FLUSHDB'/);
  const wrong = new Redis({ url, token: "not-the-token", enableAutoPipelining: false });
  await assert.rejects(wrong.get(k), /WRONGPASS invalid or missing auth token/);
  const err = await plain.hget(k, "f").catch((e) => e);
  assert.ok(!err.message.includes(token), "errors never echo the token");
});

test("read-only token", async () => {
  const k = P + "ro";
  await plain.set(k, "v");
  assert.equal(await ro.get(k), "v");
  assert.equal(await ro.exists(k), 1);
  assert.equal(await ro.ping(), "PONG");
  await assert.rejects(ro.set(k, "w"), /NOPERM this user has no permissions to run the 'set' command/);
  await assert.rejects(ro.del(k), /NOPERM/);
  await assert.rejects(ro.scan(0), /NOPERM this user has no permissions to run the 'scan' command/);
  await assert.rejects(ro.keys("*"), /NOPERM/);
  await assert.rejects(ro.eval("return 1", [], []), /NOPERM/);
  assert.equal(await ro.evalRo("return redis.call('GET', KEYS[1])", [k], []), "v");
  const p = ro.pipeline();
  p.get(k).set(k, "w");
  const res = await p.exec({ keepErrors: true });
  assert.equal(res[0].result, "v");
  assert.match(res[1].error, /NOPERM/);
  await assert.rejects(ro.multi().get(k).set(k, "w").exec(), /NOPERM/);
  assert.equal(await plain.get(k), "v");
});

test("read-your-writes sync token", async () => {
  const c = new Redis({ url, token, enableAutoPipelining: false });
  await resetStats();
  await c.set(P + "ryw", "1");
  assert.match(c.readYourWritesSyncToken, /^\d+$/);
  await c.get(P + "ryw");
  const st = await stats();
  assert.equal(st.requests, 2);
  assert.equal(st.sync_tokens, 1, "the second request sent the first one's token back");
});

test("pub/sub: subscribe, psubscribe and publish", async () => {
  const ch = P + "news";
  const sub = plain.subscribe([ch]);
  const psub = plain.psubscribe([P + "room:*"]);
  try {
    const confirmed = (s, kind) => new Promise((resolve) => s.on(kind, resolve));
    const got = [];
    const pgot = [];
    sub.on("message", (m) => got.push(m));
    psub.on("pmessage", (m) => pgot.push(m));
    assert.equal(await confirmed(sub, "subscribe"), 1);
    assert.equal(await confirmed(psub, "psubscribe"), 1);
    assert.equal(await plain.publish(ch, "hello"), 1);
    assert.equal(await plain.publish(ch, { n: 1 }), 1);
    // The client parses pattern messages as strict JSON (plain ones leniently).
    assert.equal(await plain.publish(P + "room:7", { hi: true }), 1);
    const deadline = Date.now() + 5000;
    while ((got.length < 2 || pgot.length < 1) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(got, [
      { channel: ch, message: "hello" },
      { channel: ch, message: { n: 1 } },
    ]);
    assert.deepEqual(pgot, [{ pattern: P + "room:*", channel: P + "room:7", message: { hi: true } }]);
  } finally {
    await sub.unsubscribe();
    await psub.unsubscribe();
  }
});

test("faults", async (t) => {
  const k = P + "faults";
  try {
    await t.test("dropped connections are retried by the client", async () => {
      await setFaults({ seed: 7, drop_rate: 0.5 });
      await resetStats();
      const c = new Redis({ url, token, enableAutoPipelining: false, retry: { retries: 20, backoff: () => 1 } });
      for (let i = 0; i < 20; i++) {
        assert.equal(await c.set(k, i), "OK");
      }
      const st = await stats();
      assert.ok(st.faults.dropped > 0, "some requests were dropped");
      assert.equal(st.commands, 20, "a dropped request runs nothing");
      assert.equal(st.requests, 20 + st.faults.dropped);
    });
    await t.test("server errors are not retried", async () => {
      await setFaults({ server_error_rate: 1, server_error_status: 503 });
      await resetStats();
      await assert.rejects(plain.get(k), /injected server error/);
      const st = await stats();
      assert.equal(st.requests, 1);
      assert.equal(st.commands, 0);
    });
    await t.test("quota errors carry Upstash's message", async () => {
      await setFaults({ quota_rate: 1, quota: "daily_requests" });
      await assert.rejects(plain.get(k), /ERR max daily request limit exceeded/);
      await setFaults({ command_limit: 2 });
      await resetStats();
      await plain.get(k);
      await plain.get(k);
      await assert.rejects(plain.get(k), /ERR max requests limit exceeded/);
    });
    await t.test("latency", async () => {
      await setFaults({ latency: "60ms" });
      const start = performance.now();
      await plain.get(k);
      assert.ok(performance.now() - start >= 55, "the reply waited");
    });
    await t.test("a truncated reply fails the call", async () => {
      await setFaults({ truncate_rate: 1 });
      await assert.rejects(plain.set(k, "after"));
      await setFaults({});
      assert.equal(await plain.get(k), "after", "the command ran; only its reply was lost");
    });
  } finally {
    await setFaults({});
  }
});
