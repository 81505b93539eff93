-- recv() of hand-made payloads: writes a one-row binary COPY file holding the
-- given field bytes and loads it into a column of the given type; returns the
-- value as text or 'SQLSTATE: message'.  Shared by the suites that test binary
-- input (\i'd by each).
CREATE FUNCTION pg_temp.recv(payload bytea, typ text DEFAULT 'vector') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	f text := current_setting('data_directory') || '/embed_regress_recv.bin';
	lo oid;
	r text;
BEGIN
	-- signature, flags, header extension length, 1 field, its length, bytes, trailer
	lo := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
		|| '\x0001'::bytea || int4send(length(payload)) || payload || '\xffff'::bytea);
	PERFORM lo_export(lo, f);
	PERFORM lo_unlink(lo);
	EXECUTE format('CREATE TEMP TABLE recv_t (v %s)', typ);
	BEGIN
		EXECUTE format('COPY recv_t FROM %L (FORMAT binary)', f);
		SELECT v::text INTO r FROM recv_t;
	EXCEPTION WHEN OTHERS THEN
		r := SQLSTATE || ': ' || SQLERRM;
	END;
	DROP TABLE recv_t;
	RETURN r;
END $$;
