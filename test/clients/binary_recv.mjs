// Sends malformed binary `vector` values as Bind parameters (format code 1)
// through node-postgres, the way a buggy or hostile client would. For each
// case prints one line: "case NAME CODE MESSAGE" (CODE is the SQLSTATE, or
// "none" if the server accepted the value). The TAP test judges the codes.
//
// Expects table recv_target (id int, v3 vector(3), v vector) to exist.
// Connection comes from PGHOST/PGPORT/PGUSER/PGDATABASE.

import pg from 'pg';

const client = new pg.Client();
await client.connect();

function header(dim, unused = 0) {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(dim, 0);
  b.writeUInt16BE(unused, 2);
  return b;
}
function floats(xs) {
  const b = Buffer.alloc(4 * xs.length);
  xs.forEach((x, i) => b.writeFloatBE(x, 4 * i));
  return b;
}
function bits(words) {
  const b = Buffer.alloc(4 * words.length);
  words.forEach((w, i) => b.writeUInt32BE(w >>> 0, 4 * i));
  return b;
}
const vec = (xs) => Buffer.concat([header(xs.length), floats(xs)]);
const ones = (n) => new Array(n).fill(1);

// [name, column, bytes]
const cases = [
  ['dim0', 'v', header(0)],
  ['dim16001', 'v', Buffer.concat([header(16001), floats(ones(16001))])],
  ['dim65535', 'v', Buffer.concat([header(65535), floats(ones(3))])],
  ['unused1', 'v', Buffer.concat([header(3, 1), floats([1, 2, 3])])],
  ['unused_ffff', 'v', Buffer.concat([header(3, 0xffff), floats([1, 2, 3])])],
  ['truncated_floats', 'v', Buffer.concat([header(3), floats([1, 2])])],
  ['truncated_partial_float', 'v', Buffer.concat([header(3), floats([1, 2]), Buffer.from([0x3f, 0x80])])],
  ['truncated_header', 'v', Buffer.from([0x00, 0x03, 0x00])],
  ['empty', 'v', Buffer.alloc(0)],
  ['trailing_bytes', 'v', Buffer.concat([vec([1, 2, 3]), Buffer.from([0])])],
  ['trailing_float', 'v', Buffer.concat([vec([1, 2, 3]), floats([4])])],
  ['nan', 'v', Buffer.concat([header(3), bits([0x3f800000, 0x7fc00000, 0x3f800000])])],
  ['nan_payload', 'v', Buffer.concat([header(1), bits([0xffffffff])])],
  ['inf', 'v', Buffer.concat([header(3), bits([0x7f800000, 0, 0])])],
  ['neg_inf', 'v', Buffer.concat([header(3), bits([0, 0, 0xff800000])])],
  ['typmod_dim2', 'v3', vec([1, 2])],
  ['typmod_dim4', 'v3', vec([1, 2, 3, 4])],
  // Controls: well-formed values must still be accepted.
  ['good_v3', 'v3', vec([1, 2, 3])],
  ['good_v_max', 'v', Buffer.concat([header(16000), floats(ones(16000))])],
];

let nextId = 1000;
for (const [name, col, bytes] of cases) {
  const id = nextId++;
  try {
    await client.query(`INSERT INTO recv_target (id, ${col}) VALUES ($1, $2)`, [id, bytes]);
    console.log(`case ${name} none accepted`);
  } catch (e) {
    console.log(`case ${name} ${e.code} ${String(e.message).replace(/\s+/g, ' ')}`);
  }
}

// The same bytes through a bare cast (no table, typmod -1) for the value checks.
for (const [name, bytes] of [['cast_nan', Buffer.concat([header(1), bits([0x7fc00000])])],
                             ['cast_dim0', header(0)],
                             ['cast_truncated', Buffer.concat([header(2), floats([1])])]]) {
  try {
    await client.query('SELECT $1::vector AS v', [bytes]);
    console.log(`case ${name} none accepted`);
  } catch (e) {
    console.log(`case ${name} ${e.code} ${String(e.message).replace(/\s+/g, ' ')}`);
  }
}

// Same connection still works after every error.
const r = await client.query('SELECT count(*)::int AS n FROM recv_target');
console.log(`rows ${r.rows[0].n}`);
await client.end();
console.log('done');
