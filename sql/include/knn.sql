-- Index-scan helpers for the index suites (\i'd after setup.sql).
--
-- knn(): the ids of "ORDER BY v <op> q LIMIT k" (with an optional WHERE
-- filter) read through index idx (an error if the plan does not use it), and
-- whether they equal the exact answer from a sequential scan and sort.
CREATE FUNCTION pg_temp.ids(stmt text) RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE r int[];
BEGIN
	EXECUTE format('SELECT ARRAY(%s)', stmt) INTO r;
	RETURN r;
END $$;
CREATE FUNCTION pg_temp.ids_exact(stmt text) RETURNS int[] LANGUAGE sql
	SET enable_indexscan = off SET enable_bitmapscan = off SET enable_seqscan = on
	AS $$ SELECT pg_temp.ids(stmt) $$;
CREATE FUNCTION pg_temp.ids_index(stmt text, idx text) RETURNS int[] LANGUAGE plpgsql
	SET enable_seqscan = off SET enable_bitmapscan = off SET enable_indexscan = on AS $$
DECLARE line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || stmt LOOP
		IF line LIKE '%Index Scan using ' || idx || ' on %' THEN
			RETURN pg_temp.ids(stmt);
		END IF;
	END LOOP;
	RAISE EXCEPTION 'index % not used by: %', idx, stmt;
END $$;
CREATE FUNCTION pg_temp.knn(idx regclass, op text, q vector, k int DEFAULT 10,
                            filter text DEFAULT 'true',
                            OUT ids int[], OUT exact boolean) LANGUAGE plpgsql AS $$
DECLARE
	tab regclass := (SELECT indrelid FROM pg_index WHERE indexrelid = idx);
	stmt text := format('SELECT id FROM %s WHERE %s ORDER BY v %s %L::vector LIMIT %s',
	                    tab, filter, op, q, k);
BEGIN
	ids := pg_temp.ids_index(stmt, idx::text);
	exact := ids = pg_temp.ids_exact(stmt);
END $$;
