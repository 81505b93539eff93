-- Shared start of every pg_regress suite (\i'd by each, so each runs alone).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS embed;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Errors are reported as 'SQLSTATE: message' rows (psql's verbose mode would
-- also print the C source line).
CREATE FUNCTION pg_temp.sqlerr(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
