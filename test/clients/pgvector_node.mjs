// Wire compatibility with pgvector's official Node client (npm `pgvector`) on
// top of node-postgres (npm `pg`), in both text and binary formats, for
// vector, halfvec, sparsevec (the package's SparseVector) and bit (strings).
//
// Binary goes over the wire three ways:
//   * Bind parameters: node-postgres sends a Buffer with format code 1, so the
//     server runs the type's receive function on our bytes;
//   * COPY ... TO STDOUT / FROM STDIN (FORMAT binary) through pg-copy-streams,
//     the bulk-loading path pgvector's Node docs point to;
//   * vector_send() (halfvec_send(), sparsevec_send()) as bytea.
// Binary *result columns* (`binary: true`) are not used: node-postgres 8.x
// decodes every DataRow field as UTF-8 and back, which corrupts bytes >= 0x80
// (brianc/node-postgres#3495), so no server could pass that way.
//
// Connection comes from the libpq-style environment (PGHOST, PGPORT, PGUSER,
// PGDATABASE), which node-postgres reads itself. The database must already
// have `CREATE EXTENSION embed`. Prints one "ok NAME" line per passed check
// and exits non-zero (with the assertion) on the first failure.

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import pgvector from 'pgvector/pg';
import { SparseVector } from 'pgvector';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

const client = new pg.Client();
await client.connect();

function ok(name) {
  console.log(`ok ${name}`);
}

// The documented binary format: uint16 dim, uint16 unused (0), dim x float4,
// all big-endian. Written here from the spec, not taken from any library.
function encodeVector(values) {
  const buf = Buffer.alloc(4 + 4 * values.length);
  buf.writeUInt16BE(values.length, 0);
  buf.writeUInt16BE(0, 2);
  values.forEach((v, i) => buf.writeFloatBE(v, 4 + 4 * i));
  return buf;
}

function decodeVector(buf) {
  assert.ok(Buffer.isBuffer(buf), 'binary value is a Buffer');
  const dim = buf.readUInt16BE(0);
  assert.equal(buf.readUInt16BE(2), 0, 'unused field is 0');
  assert.equal(buf.length, 4 + 4 * dim, 'length matches dim');
  const out = new Array(dim);
  for (let i = 0; i < dim; i++) out[i] = buf.readFloatBE(4 + 4 * i);
  return out;
}

// COPY BINARY stream: 11-byte signature, int32 flags, int32 extension length
// (+ extension), then per tuple int16 field count and int32-length-prefixed
// fields (-1 = NULL), then int16 -1.
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

function parseCopyBinary(buf) {
  assert.ok(buf.subarray(0, 11).equals(SIGNATURE), 'COPY signature');
  let pos = 11 + 4;
  pos += 4 + buf.readInt32BE(pos);
  const rows = [];
  for (;;) {
    const n = buf.readInt16BE(pos); pos += 2;
    if (n === -1) break;
    const row = [];
    for (let i = 0; i < n; i++) {
      const len = buf.readInt32BE(pos); pos += 4;
      if (len === -1) { row.push(null); continue; }
      row.push(Buffer.from(buf.subarray(pos, pos + len))); pos += len;
    }
    rows.push(row);
  }
  assert.equal(pos, buf.length, 'nothing after the COPY trailer');
  return rows;
}

function buildCopyBinary(rows) {
  const parts = [SIGNATURE, Buffer.alloc(8)];
  for (const row of rows) {
    const n = Buffer.alloc(2); n.writeInt16BE(row.length);
    parts.push(n);
    for (const field of row) {
      const len = Buffer.alloc(4);
      len.writeInt32BE(field === null ? -1 : field.length);
      parts.push(len);
      if (field !== null) parts.push(field);
    }
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

async function copyOut(select) {
  const stream = client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`));
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return parseCopyBinary(Buffer.concat(chunks));
}

async function copyIn(target, rows) {
  const stream = client.query(copyFrom(`COPY ${target} FROM STDIN (FORMAT binary)`));
  await pipeline(Readable.from([buildCopyBinary(rows)]), stream);
}

const int4 = (x) => { const b = Buffer.alloc(4); b.writeInt32BE(x); return b; };
const f32 = (xs) => xs.map((x) => Math.fround(x));
const l2 = (a, b) => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));

// registerTypes() finds the type by name, exactly as it does for pgvector.
await pgvector.registerTypes(client);
const { rows: [{ oid: vectorOid }] } = await client.query(
  "SELECT 'vector'::regtype::oid AS oid");
ok('registerTypes');

await client.query('DROP TABLE IF EXISTS items');
await client.query('CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))');

// Distinct distances from the query point [1,1,1] so the expected order is unique.
const items = [
  [1, [1, 1, 1]],
  [2, [2, 2, 2]],
  [3, [1, 1, 2.5]],
  [4, [0.5, 1, 1]],
  [5, [-3, 4, 0.25]],
  [6, [1.5, 0.75, 1.125]],
  [7, [0.1, -0.2, 0.3]],
  [8, [10, 10, -10]],
];

// TEXT parameters, produced by the client's own serializer.
for (const [id, v] of items.slice(0, 3)) {
  await client.query('INSERT INTO items (id, embedding) VALUES ($1, $2)',
    [id, pgvector.toSql(v)]);
}
// BINARY parameters.
for (const [id, v] of items.slice(3, 6)) {
  await client.query('INSERT INTO items (id, embedding) VALUES ($1, $2)',
    [id, encodeVector(v)]);
}
// COPY FROM STDIN (FORMAT binary), the bulk-loading path.
await copyIn('items (id, embedding)', items.slice(6).map(([id, v]) => [int4(id), encodeVector(v)]));
ok('insert via text parameters, binary parameters and binary COPY');

// TEXT results, parsed by the parser registerTypes() installed.
{
  const r = await client.query('SELECT id, embedding FROM items ORDER BY id');
  assert.equal(r.fields[1].dataTypeID, vectorOid);
  assert.equal(r.fields[1].format, 'text');
  // Text carries the shortest decimal that round-trips the float4, so compare
  // after rounding to float4.
  assert.deepEqual(r.rows.map((row) => [row.id, f32(row.embedding)]),
    items.map(([id, v]) => [id, f32(v)]));
  const t = await client.query('SELECT embedding::text AS t FROM items WHERE id = 5');
  assert.equal(t.rows[0].t, '[-3,4,0.25]');
  ok('text results parse to number arrays');
}

// BINARY results via COPY TO STDOUT, decoded from the documented layout.
{
  const rows = await copyOut('SELECT id, embedding FROM items ORDER BY id');
  assert.deepEqual(rows.map(([id, v]) => [id.readInt32BE(0), decodeVector(v)]),
    items.map(([id, v]) => [id, f32(v)]));
  // vector_send() is the same function, reachable as bytea in a normal query.
  const s = await client.query('SELECT vector_send(embedding) AS b FROM items WHERE id = 5');
  assert.ok(s.rows[0].b.equals(encodeVector(items[4][1])), s.rows[0].b.toString('hex'));
  ok('binary results decode');
}

// Bytes out equal bytes in: send(recv(x)) == x, for awkward bit patterns.
{
  const input = Buffer.from('0004' + '0000' + '80000000' + '00000001' + '7f7fffff' + 'bf8ccccd', 'hex');
  await client.query('CREATE TEMP TABLE echo (v vector)');
  await client.query('INSERT INTO echo VALUES ($1)', [input]);
  const [[out]] = await copyOut('SELECT v FROM echo');
  assert.ok(input.equals(out), `binary echo ${out.toString('hex')}`);
  ok('binary echo is byte-identical');
}

// Nearest neighbours, query vector as a text parameter (as in the client's README).
const query = [1, 1, 1];
const expectedOrder = items
  .map(([id, v]) => [id, l2(f32(v), query)])
  .sort((a, b) => a[1] - b[1]);
{
  const r = await client.query(
    'SELECT id, embedding <-> $1 AS d FROM items ORDER BY embedding <-> $1 LIMIT 5',
    [pgvector.toSql(query)]);
  assert.deepEqual(r.rows.map((row) => row.id), expectedOrder.slice(0, 5).map((x) => x[0]));
  r.rows.forEach((row, i) => {
    assert.ok(Math.abs(row.d - expectedOrder[i][1]) < 1e-6, `distance ${row.d}`);
  });
  ok('order by <-> with text parameter');
}
// ... and as a binary parameter of a named prepared statement, executed twice
// (the second execution binds to the already-parsed statement).
for (let round = 0; round < 2; round++) {
  const r = await client.query({
    name: 'knn',
    text: 'SELECT id, embedding FROM items ORDER BY embedding <-> $1 LIMIT 3',
    values: [encodeVector(query)],
  });
  assert.deepEqual(r.rows.map((row) => row.id), expectedOrder.slice(0, 3).map((x) => x[0]));
  const byId = new Map(items);
  r.rows.forEach((row) => assert.deepEqual(f32(row.embedding), f32(byId.get(row.id))));
}
ok('order by <-> with binary parameter');

// Float round trips at the edges of float4.
{
  await client.query('CREATE TEMP TABLE rt (id int, v vector)');
  const edge = [0.1, 1e-45, 3.4028235e38, -3.4028235e38, 1.17549435e-38, 123456789, -1.5e-7];
  await client.query('INSERT INTO rt VALUES (1, $1)', [pgvector.toSql(edge)]);
  await client.query('INSERT INTO rt VALUES (2, $1)', [encodeVector(edge)]);
  // -0 cannot be written by toSql (JSON drops the sign); binary keeps it.
  await client.query('INSERT INTO rt VALUES (3, $1)', [encodeVector([-0, 0, -0])]);

  const text = (await client.query('SELECT v FROM rt ORDER BY id')).rows.map((r) => r.v);
  const bin = (await copyOut('SELECT v FROM rt ORDER BY id')).map(([v]) => decodeVector(v));
  for (const got of [text, bin]) {
    for (const row of [0, 1]) {
      assert.equal(got[row].length, edge.length);
      got[row].forEach((x, i) => assert.ok(Object.is(Math.fround(x), Math.fround(edge[i])),
        `row ${row + 1} elem ${i}: ${x} vs ${Math.fround(edge[i])}`));
    }
    const z = got[2];
    assert.ok(Object.is(z[0], -0) && Object.is(z[1], 0) && Object.is(z[2], -0),
      `signed zeros ${z}`);
  }
  // Shortest round-trip text, like float4out.
  const t = (await client.query('SELECT v::text AS t FROM rt ORDER BY id')).rows.map((r) => r.t);
  assert.equal(t[0], '[0.1,1e-45,3.4028235e+38,-3.4028235e+38,1.1754944e-38,1.2345679e+08,-1.5e-07]');
  assert.equal(t[1], t[0]);
  assert.equal(t[2], '[-0,0,-0]');
  ok('float4 round trip (0.1, 1e-45, 3.4028235e38, -0)');
}

// NULLs in both formats.
{
  await client.query('INSERT INTO items (id, embedding) VALUES (9, $1)', [null]);
  await copyIn('items (id, embedding)', [[int4(10), null]]);
  const t = await client.query('SELECT embedding FROM items WHERE id IN (9, 10) ORDER BY id');
  assert.deepEqual(t.rows.map((r) => r.embedding), [null, null]);
  const b = await copyOut('SELECT embedding FROM items WHERE id IN (9, 10) ORDER BY id');
  assert.deepEqual(b, [[null], [null]]);
  ok('null vectors');
}

// A wide vector (maximum dimensions) through binary both ways and text.
{
  const dim = 16000;
  const big = Array.from({ length: dim }, (_, i) => Math.fround(Math.sin(i) * (i % 7 === 0 ? 1e30 : 1)));
  const r = await client.query('SELECT $1::vector AS v, vector_dims($1::vector) AS n',
    [encodeVector(big)]);
  assert.equal(r.rows[0].n, dim);
  assert.deepEqual(f32(r.rows[0].v), big);
  const t = await client.query('SELECT $1::vector AS v', [pgvector.toSql(big)]);
  assert.deepEqual(f32(t.rows[0].v), big);
  await client.query('CREATE TEMP TABLE wide (v vector(16000))');
  await copyIn('wide', [[encodeVector(big)]]);
  const [[out]] = await copyOut('SELECT v FROM wide');
  assert.ok(out.equals(encodeVector(big)));
  ok('16000-dim vector round trip');
}

// Errors come back as errors with the documented SQLSTATE; the session survives.
{
  await assert.rejects(
    client.query('INSERT INTO items (id, embedding) VALUES (11, $1)', [pgvector.toSql([1, 2])]),
    (e) => e.code === '22000');
  await assert.rejects(
    client.query('INSERT INTO items (id, embedding) VALUES (11, $1)', [encodeVector([1, 2])]),
    (e) => e.code === '22000');
  await assert.rejects(copyIn('items (id, embedding)', [[int4(11), encodeVector([1, 2])]]),
    (e) => e.code === '22000');
  const r = await client.query('SELECT count(*)::int AS n FROM items');
  assert.equal(r.rows[0].n, 10);
  ok('dimension mismatch rejected, session usable');
}

// halfvec: registerTypes() installs its text parser too (found by name);
// binary is uint16 dim, uint16 unused, dim x binary16 bits, big-endian.
{
  // binary16 bits of x, for values a half holds exactly (those used here)
  const halfBits = (x) => {
    const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
    const a = Math.abs(x);
    if (a === 0) return sign;
    const e = Math.floor(Math.log2(a));
    if (e < -14) return sign | Math.round(a / 2 ** -24);
    return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
  };
  const encodeHalf = (values) => {
    const buf = Buffer.alloc(4 + 2 * values.length);
    buf.writeUInt16BE(values.length, 0);
    buf.writeUInt16BE(0, 2);
    values.forEach((v, i) => buf.writeUInt16BE(halfBits(v), 4 + 2 * i));
    return buf;
  };
  const halves = [[1, [1, 1, 1]], [2, [2, 2.5, -3]], [3, [0.5, 65504, -0.25]], [4, [1.5, 1, 1.125]]];
  await client.query('DROP TABLE IF EXISTS hitems');
  await client.query('CREATE TABLE hitems (id int PRIMARY KEY, embedding halfvec(3))');
  await client.query('INSERT INTO hitems VALUES ($1, $2)', [1, pgvector.toSql(halves[0][1])]);
  await client.query('INSERT INTO hitems VALUES ($1, $2)', [2, encodeHalf(halves[1][1])]);
  await copyIn('hitems (id, embedding)', halves.slice(2).map(([id, v]) => [int4(id), encodeHalf(v)]));
  const r = await client.query('SELECT id, embedding FROM hitems ORDER BY id');
  assert.deepEqual(r.rows.map((row) => [row.id, row.embedding]), halves);
  const s = await client.query('SELECT halfvec_send(embedding) AS b FROM hitems WHERE id = 3');
  assert.ok(s.rows[0].b.equals(encodeHalf(halves[2][1])), s.rows[0].b.toString('hex'));
  const [[, out]] = await copyOut('SELECT id, embedding FROM hitems WHERE id = 2');
  assert.ok(out.equals(encodeHalf(halves[1][1])), out.toString('hex'));
  const n = await client.query('SELECT id FROM hitems ORDER BY embedding <-> $1 LIMIT 2',
    [pgvector.toSql([1, 1, 1])]);
  assert.deepEqual(n.rows.map((row) => row.id), [1, 4]);
  await assert.rejects(client.query('INSERT INTO hitems VALUES (9, $1)', [pgvector.toSql([1, 2, 65520])]),
    (e) => e.code === '22003');
  ok('halfvec: text, binary parameters, binary COPY, send, <->, out of range');
}

// sparsevec: registerTypes() parses text results into the package's
// SparseVector (0-based indices); toSql() writes `{i:v,...}/dim`. Binary is
// int32 dim, int32 nnz, int32 unused (0), nnz x int32 0-based index,
// nnz x float4, big-endian (the package has no binary codec; written here
// from the spec).
const encodeSparse = (dim, indices, values) => {
  const buf = Buffer.alloc(12 + 8 * indices.length);
  buf.writeInt32BE(dim, 0);
  buf.writeInt32BE(indices.length, 4);
  buf.writeInt32BE(0, 8);
  indices.forEach((x, i) => buf.writeInt32BE(x, 12 + 4 * i));
  values.forEach((x, i) => buf.writeFloatBE(x, 12 + 4 * indices.length + 4 * i));
  return buf;
};
const sparseOf = (sv) => [sv.dimensions, sv.indices, sv.values];
const dense = (dim, indices, values) => {
  const out = new Array(dim).fill(0);
  indices.forEach((x, i) => { out[x] = values[i]; });
  return out;
};
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const metrics = {
  '<->': l2,
  '<#>': (a, b) => -dot(a, b),
  '<=>': (a, b) => 1 - dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b)),
  '<+>': (a, b) => a.reduce((s, x, i) => s + Math.abs(x - b[i]), 0),
};
{
  // [id, dim, 0-based indices, values]; every value is exact in float4.
  const sparse = [
    [1, 5, [0, 2], [1, 2]],
    [2, 5, [2, 4], [3, -1.5]],
    [3, 5, [1, 4], [0.5, 4]],
    [4, 5, [0, 1, 2, 3, 4], [1, 1, 1, 1, 1]],
    [5, 5, [3], [-2]],
    [6, 5, [0, 4], [2.25, 0.125]],
  ];
  await client.query('DROP TABLE IF EXISTS sitems');
  await client.query('CREATE TABLE sitems (id int PRIMARY KEY, embedding sparsevec(5))');
  // text: from a map of non-zeros and from a dense array (zeros dropped)
  await client.query('INSERT INTO sitems VALUES ($1, $2)',
    [1, pgvector.toSql(new SparseVector({ 0: 1, 2: 2 }, 5))]);
  await client.query('INSERT INTO sitems VALUES ($1, $2)',
    [2, pgvector.toSql(new SparseVector([0, 0, 3, 0, -1.5]))]);
  // binary parameters
  for (const [id, dim, ix, vals] of sparse.slice(2, 4)) {
    await client.query('INSERT INTO sitems VALUES ($1, $2)', [id, encodeSparse(dim, ix, vals)]);
  }
  // binary COPY
  await copyIn('sitems (id, embedding)',
    sparse.slice(4).map(([id, dim, ix, vals]) => [int4(id), encodeSparse(dim, ix, vals)]));

  const r = await client.query('SELECT id, embedding FROM sitems ORDER BY id');
  assert.ok(r.rows.every((row) => row.embedding instanceof SparseVector));
  assert.deepEqual(r.rows.map((row) => [row.id, ...sparseOf(row.embedding)]), sparse);
  assert.deepEqual(r.rows[1].embedding.toArray(), [0, 0, 3, 0, -1.5]);
  const t = await client.query('SELECT embedding::text AS t FROM sitems WHERE id = 6');
  assert.equal(t.rows[0].t, '{1:2.25,5:0.125}/5');
  const s = await client.query('SELECT sparsevec_send(embedding) AS b FROM sitems WHERE id = 2');
  assert.ok(s.rows[0].b.equals(encodeSparse(5, [2, 4], [3, -1.5])), s.rows[0].b.toString('hex'));
  const out = await copyOut('SELECT id, embedding FROM sitems ORDER BY id');
  out.forEach(([, b], i) => {
    const [, dim, ix, vals] = sparse[i];
    assert.ok(b.equals(encodeSparse(dim, ix, vals)), `row ${i + 1}: ${b.toString('hex')}`);
  });
  ok('sparsevec: text and binary parameters, binary COPY, parsed to SparseVector, send');

  // Every distance operator against the same sums done here, query as a text
  // parameter; then kNN order with text and binary query parameters.
  const q = new SparseVector({ 0: 1, 1: 1 }, 5);
  const qd = q.toArray();
  for (const [op, f] of Object.entries(metrics)) {
    const d = await client.query(`SELECT id, embedding ${op} $1 AS d FROM sitems ORDER BY id`,
      [pgvector.toSql(q)]);
    d.rows.forEach((row, i) => {
      const [, dim, ix, vals] = sparse[i];
      const want = f(dense(dim, ix, vals), qd);
      assert.ok(Math.abs(row.d - want) < 1e-6, `${op} id ${row.id}: ${row.d} vs ${want}`);
    });
  }
  const knn = 'SELECT id FROM sitems ORDER BY embedding <-> $1 LIMIT 3';
  assert.deepEqual((await client.query(knn, [pgvector.toSql(q)])).rows.map((x) => x.id), [6, 4, 1]);
  assert.deepEqual((await client.query(knn, [encodeSparse(5, [0, 1], [1, 1])])).rows.map((x) => x.id),
    [6, 4, 1]);
  // the same through an hnsw index
  await client.query('CREATE INDEX ON sitems USING hnsw (embedding sparsevec_l2_ops)');
  await client.query('BEGIN');
  await client.query('SET LOCAL enable_seqscan = off');
  const plan = await client.query(`EXPLAIN (COSTS OFF) ${knn}`, [pgvector.toSql(q)]);
  assert.match(plan.rows.map((x) => x['QUERY PLAN']).join('\n'), /Index Scan using sitems_embedding_idx/);
  assert.deepEqual((await client.query(knn, [pgvector.toSql(q)])).rows.map((x) => x.id), [6, 4, 1]);
  await client.query('COMMIT');
  ok('sparsevec: <-> <#> <=> <+> match, order by <-> with text and binary parameters, hnsw');

  // Edges: a billion dimensions, no non-zeros, float4 extremes.
  const wide = new SparseVector({ 0: -1, 999999999: 1.5 }, 1000000000);
  const w = await client.query('SELECT $1::sparsevec AS v, $2::sparsevec::text AS b',
    [pgvector.toSql(wide), encodeSparse(1000000000, [0, 999999999], [-1, 1.5])]);
  assert.deepEqual(sparseOf(w.rows[0].v), [1000000000, [0, 999999999], [-1, 1.5]]);
  assert.equal(w.rows[0].b, '{1:-1,1000000000:1.5}/1000000000');
  // pgvector 0.2.1's SparseVector parses '{}/3' to indices [NaN] (it splits
  // the empty element list), so an empty vector is checked as text and bytes.
  const e = await client.query('SELECT $1::sparsevec::text AS t, sparsevec_send($2::sparsevec) AS b',
    [pgvector.toSql(new SparseVector([0, 0, 0])), encodeSparse(3, [], [])]);
  assert.equal(e.rows[0].t, '{}/3');
  assert.ok(e.rows[0].b.equals(encodeSparse(3, [], [])));
  const edge = [0.1, 1e-45, 3.4028235e38, -1.17549435e-38];
  const x = await client.query('SELECT $1::sparsevec AS v, sparsevec_send($1::sparsevec) AS b',
    [pgvector.toSql(new SparseVector(edge))]);
  x.rows[0].v.values.forEach((v, i) => assert.ok(Object.is(Math.fround(v), Math.fround(edge[i]))));
  assert.ok(x.rows[0].b.equals(encodeSparse(4, [0, 1, 2, 3], edge)), x.rows[0].b.toString('hex'));
  ok('sparsevec: 1e9 dimensions, empty, float4 extremes');

  // Errors with their SQLSTATEs; the session stays usable.
  await assert.rejects(client.query('INSERT INTO sitems VALUES (9, $1)',
    [pgvector.toSql(new SparseVector([1, 2, 3]))]), (err) => err.code === '22000');
  await assert.rejects(client.query('SELECT $1::sparsevec',
    [encodeSparse(5, [3, 1], [1, 1])]), (err) => err.code === '22P03');
  await assert.rejects(client.query('SELECT $1::sparsevec', ['{6:1}/5']), (err) => err.code === '22003');
  await assert.rejects(copyIn('sitems (id, embedding)', [[int4(9), encodeSparse(5, [0], [0])]]),
    (err) => err.code === '22P03');
  assert.equal((await client.query('SELECT count(*)::int AS n FROM sitems')).rows[0].n, 6);
  ok('sparsevec: wrong dims, unsorted, out of range, zero value rejected');
}

// bit: PostgreSQL's own type. The package registers no parser for it (none is
// needed): node-postgres returns the text '1010' as a string, and pgvector's
// Node docs pass bits as such strings. Binary is varbit's: int32 bit count,
// then the bits packed high bit first.
{
  const encodeBit = (bits) => {
    const buf = Buffer.alloc(4 + Math.ceil(bits.length / 8));
    buf.writeInt32BE(bits.length, 0);
    [...bits].forEach((c, i) => { if (c === '1') buf[4 + (i >> 3)] |= 0x80 >> (i & 7); });
    return buf;
  };
  const ones = (s) => [...s].filter((c) => c === '1').length;
  const hamming = (a, b) => [...a].filter((c, i) => c !== b[i]).length;
  const jaccard = (a, b) => {
    const both = [...a].filter((c, i) => c === '1' && b[i] === '1').length;
    const any = ones(a) + ones(b) - both;
    return any === 0 ? 0 : 1 - both / any;
  };
  const bits = [[1, '101100101'], [2, '111111111'], [3, '000000001'], [4, '101100100'],
    [5, '010011010'], [6, '100000000']];
  await client.query('DROP TABLE IF EXISTS bitems');
  await client.query('CREATE TABLE bitems (id int PRIMARY KEY, embedding bit(9))');
  for (const [id, b] of bits.slice(0, 2)) {
    await client.query('INSERT INTO bitems VALUES ($1, $2)', [id, b]);
  }
  for (const [id, b] of bits.slice(2, 4)) {
    await client.query('INSERT INTO bitems VALUES ($1, $2)', [id, encodeBit(b)]);
  }
  await copyIn('bitems (id, embedding)', bits.slice(4).map(([id, b]) => [int4(id), encodeBit(b)]));
  const r = await client.query('SELECT id, embedding FROM bitems ORDER BY id');
  assert.deepEqual(r.rows.map((row) => [row.id, row.embedding]), bits);
  const out = await copyOut('SELECT embedding FROM bitems ORDER BY id');
  out.forEach(([b], i) => assert.ok(b.equals(encodeBit(bits[i][1])), `row ${i + 1}: ${b.toString('hex')}`));
  ok('bit: text strings and binary parameters, binary COPY');

  const q = '101100111';
  for (const [op, f] of [['<~>', hamming], ['<%>', jaccard]]) {
    for (const param of [q, encodeBit(q)]) {
      const d = await client.query(`SELECT id, embedding ${op} $1 AS d FROM bitems ORDER BY id`, [param]);
      d.rows.forEach((row, i) => {
        const want = f(bits[i][1], q);
        assert.ok(Math.abs(row.d - want) < 1e-12, `${op} id ${row.id}: ${row.d} vs ${want}`);
      });
    }
  }
  const hd = await client.query(
    'SELECT hamming_distance(embedding, $1) AS h, jaccard_distance(embedding, $1) AS j FROM bitems WHERE id = 4', [q]);
  assert.deepEqual([hd.rows[0].h, hd.rows[0].j], [hamming('101100100', q), jaccard('101100100', q)]);
  // binary_quantize of a vector the client wrote, then kNN by Hamming through
  // an hnsw index (seq scan off), query as text and as binary.
  const bq = await client.query('SELECT binary_quantize($1::vector)::text AS b',
    [pgvector.toSql([1, -1, 2, 0.5, 0, -3, 1e-30, -0, 4])]);
  assert.equal(bq.rows[0].b, '101100101');
  await client.query('CREATE INDEX ON bitems USING hnsw (embedding bit_hamming_ops)');
  await client.query('BEGIN');
  await client.query('SET LOCAL enable_seqscan = off');
  const knn = 'SELECT id FROM bitems ORDER BY embedding <~> $1 LIMIT 3';
  const plan = await client.query(`EXPLAIN (COSTS OFF) ${knn}`, [q]);
  assert.match(plan.rows.map((x) => x['QUERY PLAN']).join('\n'), /Index Scan using bitems_embedding_idx/);
  const want = bits.map(([id, b]) => [id, hamming(b, q)]).sort((a, b) => a[1] - b[1]).slice(0, 3)
    .map((x) => x[0]);
  assert.deepEqual((await client.query(knn, [q])).rows.map((x) => x.id), want);
  assert.deepEqual((await client.query(knn, [encodeBit(q)])).rows.map((x) => x.id), want);
  await client.query('COMMIT');
  await assert.rejects(client.query('SELECT $1::bit(9) <~> $2::bit(8)', [q, '10110011']),
    (err) => err.code === '22000');
  ok('bit: <~> <%> and the functions match, binary_quantize, order by <~> via hnsw');
}

await client.end();
console.log('done');
