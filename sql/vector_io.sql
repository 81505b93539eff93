-- vector text and binary I/O, typmods, dimension limits
\i sql/include/setup.sql

--
-- text input
--
SELECT '[1,2,3]'::vector;
SELECT '[1,2.5,-0.03]'::vector;
SELECT '[42]'::vector;
-- whitespace around elements and brackets
SELECT '  [ 1 , 2 ,3 ]  '::vector;
SELECT E'[\t1,\n2\r\n,\f3\x0B]'::vector;
-- element syntax is strtof's: signs, exponents, bare leading/trailing dot
SELECT '[+4,-4,1e2,1E+2,-1.5e-3,.5,5.,0.000001]'::vector;

--
-- text output: the shortest string that reads back as the same float4,
-- exactly like float4out (checked against it below)
--
SELECT '[0.1,0.2,0.3,1.1]'::vector;
SELECT '[1e-45,1e-40,1.17549435e-38]'::vector;   -- smallest denormal, a denormal, FLT_MIN
SELECT '[3.4028235e+38,-3.4028235e38]'::vector;   -- +-FLT_MAX
SELECT '[123456789,16777217,1000000,100000,1e15,1e16]'::vector;
SELECT '[0.0001,0.00001,-0,0]'::vector;
SELECT '[3.14159265358979]'::vector;              -- rounded to float4
SELECT '[1e-50,-1e-46]'::vector;                  -- underflow reads as (signed) zero, like strtof
SELECT '[1.00000006,0.99999997]'::vector;         -- rounded to the nearest float4

-- output == '[' || float4out of each element || ']' and text round-trips,
-- over many random values of varied magnitude
SELECT setseed(0.5);
CREATE TEMP TABLE io_rand AS
SELECT i, array_agg(((random() - 0.5) * 10 ^ (random() * 70 - 35))::real ORDER BY j) AS a
FROM generate_series(1, 200) i, generate_series(1, 20) j
GROUP BY i;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE a::vector::text <> '[' || array_to_string(a, ',') || ']') AS text_mismatch,
       count(*) FILTER (WHERE a::vector::text::vector <> a::vector) AS roundtrip_mismatch,
       count(*) FILTER (WHERE a::vector::real[] <> a) AS array_mismatch
FROM io_rand;

--
-- storage layout: 4-byte varlena header + int16 dim + int16 unused + float4s
--
SELECT typlen, typalign FROM pg_type WHERE typname = 'vector';
SELECT pg_column_size('[1]'::vector) AS one, pg_column_size('[1,2,3]'::vector) AS three;

--
-- typmod
--
SELECT '[1,2,3]'::vector(3);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::vector(3)$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2,3,4]'::vector(3)$$);
SELECT '[1,2,3]'::vector::vector(3);
SELECT pg_temp.sqlerr($$SELECT '[1,2,3]'::vector(3)::vector(2)$$);
CREATE TABLE io_t (id int, v vector(3));
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'io_t'::regclass AND attname = 'v';
INSERT INTO io_t VALUES (1, '[1,2,3]'), (2, ' [4,5,6] '), (3, NULL);
SELECT pg_temp.sqlerr($$INSERT INTO io_t VALUES (4, '[1,2]')$$);
SELECT pg_temp.sqlerr($$UPDATE io_t SET v = '[1,2,3,4]' WHERE id = 1$$);
SELECT * FROM io_t ORDER BY id;
-- unconstrained column takes any size
CREATE TABLE io_any (v vector);
INSERT INTO io_any VALUES ('[1]'), ('[1,2]'), ('[1,2,3,4,5,6,7,8,9,10]');
SELECT v, vector_dims(v) FROM io_any ORDER BY vector_dims(v);

--
-- dimension limits: 1 .. 16000
--
SELECT vector_dims('[7]'), vector_dims(('[' || repeat('1,', 15999) || '1]')::vector);
SELECT ('[' || repeat('1.5,', 15999) || '-2]')::vector::text
       = '[' || repeat('1.5,', 15999) || '-2]' AS text_16000_roundtrip;
SELECT vector_dims(('[' || repeat('1,', 15999) || '1]')::vector(16000));
SELECT pg_column_size(('[' || repeat('1,', 15999) || '1]')::vector) AS bytes_16000;
-- stored out of line (TOAST) and read back intact
CREATE TABLE io_big (v vector(16000));
INSERT INTO io_big SELECT array_agg(i * 0.25)::vector FROM generate_series(1, 16000) i;
SELECT vector_dims(v), (v::real[])[1] AS first, (v::real[])[16000] AS last,
       v = (SELECT array_agg(i * 0.25)::vector FROM generate_series(1, 16000) i) AS same
FROM io_big;
-- compressed inline (a row over ~2 KB whose vector compresses: storage
-- main), read back by embed's own pglz decoder (src/detoast.c).  Each value
-- must equal the same value in a column that is never compressed.  The
-- first third repeats a byte pattern of period 1..8 (bytes 01 02 .. p, as
-- floats), the second is pixel-like (zeros and small integers), the last
-- has no repeats, so the stream ends in literals.
CREATE TABLE io_pz (id int, v vector(1200));
CREATE TABLE io_plain (id int, v vector(1200));
ALTER TABLE io_plain ALTER COLUMN v SET STORAGE plain;
CREATE TEMP TABLE io_period (p int, f real[]);
INSERT INTO io_period VALUES
  (1, '{2.36942783e-38}'), (2, '{9.4779983e-38}'),
  (3, '{2.40623377e-38,9.4782864e-38,3.82047278e-37}'), (4, '{1.53998961e-36}'),
  (5, '{1.53998961e-36,3.82047368e-37,9.47886262e-38,2.44311202e-38,6.20716262e-36}'),
  (6, '{1.53998961e-36,9.47915072e-38,2.50174671e-35}'),
  (7, '{1.53998961e-36,2.47999028e-38,6.20716262e-36,9.47943883e-38,2.50174671e-35,3.82047457e-37,1.00825135e-34}'),
  (8, '{1.53998961e-36,4.06321607e-34}');
CREATE TEMP VIEW io_pz_src AS
SELECT i AS id, (SELECT array_agg(CASE
         WHEN j <= 400 THEN f[1 + (j - 1) % cardinality(f)]
         WHEN j <= 800 THEN CASE WHEN (j * i) % 5 = 0 THEN (j * 37 + i) % 256 ELSE 0 END
         ELSE sin(i * 1000 + j) END ORDER BY j)
       FROM generate_series(1, 1200) j)::vector(1200) AS v
FROM generate_series(1, 16) i JOIN io_period ON p = 1 + i % 8;
INSERT INTO io_pz SELECT * FROM io_pz_src;
INSERT INTO io_plain SELECT * FROM io_pz_src;
SELECT count(*) FILTER (WHERE pg_column_compression(a.v) = 'pglz') AS compressed,
       count(*) FILTER (WHERE pg_column_compression(b.v) IS NULL) AS plain,
       bool_and(a.v = b.v) AS same, bool_and(a.v::text = b.v::text) AS same_text,
       bool_and(a.v <-> q.v = b.v <-> q.v AND a.v <=> q.v = b.v <=> q.v) AS same_distances
FROM io_pz a JOIN io_plain b USING (id), (SELECT v FROM io_plain WHERE id = 3) q;
DROP TABLE io_pz, io_plain;

--
-- binary output (vector_send): big-endian uint16 dim, uint16 0, float4s
--
SELECT vector_send('[1,2]');
SELECT vector_send('[-0.5,1e-45,3.4028235e+38,-0]');
SELECT vector_send('[0.1]');
SELECT length(vector_send(('[' || repeat('1,', 15999) || '1]')::vector)) AS send_len_16000;

--
-- binary round trip through COPY (FORMAT binary): send then recv
--
CREATE TABLE io_bin (id int, v vector);
INSERT INTO io_bin SELECT i, a::vector FROM io_rand;
INSERT INTO io_bin VALUES (1001, '[1e-45,-3.4028235e+38,-0]'), (1002, NULL),
	(1003, ('[' || repeat('0.5,', 15999) || '3]')::vector);
CREATE TABLE io_bin2 (LIKE io_bin);
DO $$
DECLARE f text := current_setting('data_directory') || '/embed_regress_io.bin';
BEGIN
	EXECUTE format('COPY io_bin TO %L (FORMAT binary)', f);
	EXECUTE format('COPY io_bin2 FROM %L (FORMAT binary)', f);
END $$;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.v IS DISTINCT FROM a.v) AS value_mismatch,
       count(*) FILTER (WHERE b.v::text IS DISTINCT FROM a.v::text) AS text_mismatch
FROM io_bin a FULL JOIN io_bin2 b USING (id);
SELECT id, v FROM io_bin2 WHERE id IN (1001, 1002) ORDER BY id;

-- recv of hand-made payloads: write a one-row binary COPY file holding the
-- given field bytes and load it into a column of the given type
\i sql/include/recv.sql
SELECT pg_temp.recv('\x000200003f80000040000000');                -- [1,2]
SELECT pg_temp.recv('\x00010000bf000000', 'vector(1)');            -- [-0.5]
SELECT pg_temp.recv(vector_send('[1.5,-2.25,1e-45]'));
