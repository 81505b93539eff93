-- casts between vector and arrays
\i sql/include/setup.sql

-- the cast catalogue: contexts are part of the interface
SELECT c.castsource::regtype, c.casttarget::regtype, c.castcontext, c.castmethod
FROM pg_cast c
WHERE c.castsource = 'vector'::regtype OR c.casttarget = 'vector'::regtype
ORDER BY c.castsource::regtype::text, c.casttarget::regtype::text;

--
-- arrays -> vector
--
SELECT ARRAY[1,2,3]::vector;                            -- integer[]
SELECT '{1.5,-2.5,3e-3}'::real[]::vector;               -- real[]
SELECT '{1.5,-2.5,3e-3}'::double precision[]::vector;   -- double precision[]
SELECT ARRAY[1.5,-2.5,0.003]::vector;                   -- numeric[]
SELECT ARRAY[7]::vector, ARRAY[-2147483648, 2147483647]::vector;
-- wider types round to the nearest float4
SELECT ARRAY[0.1::float8, 1.00000006::float8, 16777217::float8]::vector;
SELECT ARRAY[0.1, 1.00000006, 16777217, 3.14159265358979323846]::vector;
SELECT ARRAY[16777217]::vector;
SELECT ARRAY[3.4028235e38::float8, -3.4028235e38::float8, 1e-45::float8]::vector;
SELECT ARRAY[340282346638528859811704183484516925440, 1e-45]::numeric[]::vector;
-- lower bound other than 1 is fine: only the elements matter
SELECT '[0:2]={1,2,3}'::int[]::vector;

-- assignment casts into a typed column
CREATE TABLE cast_t (id serial, v vector(3));
INSERT INTO cast_t (v) VALUES (ARRAY[1,2,3]);
INSERT INTO cast_t (v) VALUES ('{4,5,6}'::real[]);
INSERT INTO cast_t (v) VALUES (ARRAY[7,8,9]::float8[]);
INSERT INTO cast_t (v) VALUES (ARRAY[1.25,2.5,3.75]);
SELECT pg_temp.sqlerr($$INSERT INTO cast_t (v) VALUES (ARRAY[1,2])$$);
SELECT pg_temp.sqlerr($$INSERT INTO cast_t (v) VALUES (ARRAY[1,2,3,4]::real[])$$);
SELECT id, v FROM cast_t ORDER BY id;
-- arrays do not convert implicitly (only assignment)
SELECT pg_temp.sqlerr($$SELECT l2_distance(ARRAY[1,2], ARRAY[3,4])$$);

-- typmod is checked on cast
SELECT ARRAY[1,2,3]::vector(3);
SELECT '{1,2,3}'::real[]::vector(3), '{1,2,3}'::float8[]::vector(3), '{1,2,3}'::numeric[]::vector(3);
SELECT pg_temp.sqlerr($$SELECT ARRAY[1,2]::vector(3)$$);
SELECT pg_temp.sqlerr($$SELECT '{1,2}'::real[]::vector(3)$$);
SELECT pg_temp.sqlerr($$SELECT '{1,2}'::float8[]::vector(3)$$);
SELECT pg_temp.sqlerr($$SELECT '{1,2,3,4}'::numeric[]::vector(3)$$);
SELECT pg_temp.sqlerr($$SELECT '[1,2]'::vector(3)$$);
SELECT '[1,2,3]'::vector::vector(3);
SELECT pg_temp.sqlerr($$SELECT '[1,2,3]'::vector::vector(4)$$);

--
-- vector -> real[] (implicit)
--
SELECT '[1,2.5,-0.03]'::vector::real[];
SELECT ('[1,2,3]'::vector::real[])[2], array_length('[1,2,3]'::vector::real[], 1);
SELECT array_lower('[1,2,3]'::vector::real[], 1) AS lower_bound;
CREATE FUNCTION pg_temp.first_elem(a real[]) RETURNS real LANGUAGE sql AS 'SELECT a[1]';
SELECT pg_temp.first_elem('[7,8]'::vector);           -- implicit cast applies
SELECT '[1e-45,3.4028235e+38,-0]'::vector::real[];
-- round trips
SELECT '{1.5,2.5,-3}'::real[]::vector::real[];
SELECT array_agg(i)::vector::real[] = array_agg(i::real)
FROM generate_series(1, 16000) i;

--
-- bad arrays
--
-- NULL elements: 22004 for every array type
SELECT pg_temp.sqlerr($$SELECT ARRAY[1,NULL,3]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{1,NULL}'::real[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{NULL,1}'::float8[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{NULL}'::numeric[]::vector$$);
-- multi-dimensional arrays: 22000
SELECT pg_temp.sqlerr($$SELECT ARRAY[[1,2],[3,4]]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{{1},{2}}'::real[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{{1.5,2}}'::float8[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{{1,2},{3,4}}'::numeric[]::vector$$);
-- empty arrays: 22000
SELECT pg_temp.sqlerr($$SELECT '{}'::int[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{}'::real[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{}'::float8[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{}'::numeric[]::vector$$);
-- NaN / Infinity: 22000
SELECT pg_temp.sqlerr($$SELECT '{1,NaN}'::real[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{Infinity}'::real[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{-Infinity,1}'::real[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{NaN}'::float8[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{1,Infinity}'::float8[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{-Infinity}'::float8[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{NaN}'::numeric[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{Infinity}'::numeric[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{-Infinity}'::numeric[]::vector$$);
-- finite but outside float4's range: 22003, never Infinity
SELECT pg_temp.sqlerr($$SELECT '{1e39}'::float8[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{1,-1e39}'::float8[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT '{1e308}'::float8[]::vector$$);
-- (numeric: only the SQLSTATE, the message repeats every digit)
SELECT left(pg_temp.sqlerr($$SELECT '{1e39}'::numeric[]::vector$$), 6) AS numeric_1e39,
       left(pg_temp.sqlerr($$SELECT ARRAY[-1e39]::vector$$), 6) AS numeric_minus_1e39,
       left(pg_temp.sqlerr($$SELECT ARRAY[1e1000]::vector$$), 6) AS numeric_1e1000;
-- more than 16000 elements: 54000
SELECT pg_temp.sqlerr($$SELECT array_fill(1, ARRAY[16001])::vector$$);
SELECT pg_temp.sqlerr($$SELECT array_fill(1::real, ARRAY[16001])::vector$$);
SELECT pg_temp.sqlerr($$SELECT array_fill(1::float8, ARRAY[100000])::vector$$);
SELECT pg_temp.sqlerr($$SELECT array_fill(1::numeric, ARRAY[16001])::vector$$);
SELECT vector_dims(array_fill(1::numeric, ARRAY[16000])::vector);
-- arrays of other element types have no cast
SELECT pg_temp.sqlerr($$SELECT ARRAY['1','2']::text[]::vector$$);
SELECT pg_temp.sqlerr($$SELECT ARRAY[1,2]::bigint[]::vector$$);
