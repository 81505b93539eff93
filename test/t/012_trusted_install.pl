# embed is a trusted extension: a database owner without superuser can
# install it, and the install script then runs as the bootstrap superuser.
# That makes the script an attack surface: a less privileged user who can
# create objects in the target schema may plant objects with the names the
# script creates, hoping the script adopts them (and so hands the attacker
# ownership of, e.g., the `vector` type). The install must fail cleanly on
# every planted name, succeed in a clean schema, and leave no way for the
# planter or the installer to replace the extension's objects afterwards.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('trusted');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;    -- owns the databases, installs the extension
	CREATE ROLE bob LOGIN;      -- may create in schema public, not in the database
	CREATE ROLE mallory LOGIN;  -- the planter
	CREATE DATABASE d OWNER alice;
});

# Run SQL as a role; return (psql exit status, stdout, stderr, SQLSTATE).
sub as_role
{
	my ($role, $db, $sql) = @_;
	my ($out, $err) = ('', '');
	my $ret = $node->psql($db, "\\set VERBOSITY verbose\n$sql",
		extra_params => [ '-U', $role ],
		stdout => \$out, stderr => \$err, on_error_stop => 1);
	my ($code) = $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return ($ret, $out, $err, $code // 'none');
}

# Extension state in a database: "name owner" or "absent".
sub ext_state
{
	my ($db) = @_;
	return $node->safe_psql($db,
		q{SELECT coalesce((SELECT extname || ' ' || extowner::regrole FROM pg_extension WHERE extname = 'embed'), 'absent')});
}

is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'alice'}),
	'f', 'alice is not a superuser');

##### A plain user cannot install it; the database owner can

$node->safe_psql('d', 'GRANT CREATE ON SCHEMA public TO bob');
my ($ret, $out, $err, $code) = as_role('bob', 'd', 'CREATE EXTENSION embed');
is($code, '42501', 'bob (CREATE on schema, not on database) cannot install: insufficient_privilege')
  or diag($err);
is(ext_state('d'), 'absent', 'nothing installed by bob');

($ret, $out, $err, $code) = as_role('alice', 'd', 'CREATE EXTENSION embed');
is($ret, 0, 'alice (database owner, not superuser) installs embed: trusted = true')
  or diag($err);
is(ext_state('d'), 'embed alice', 'extension is owned by alice');

# Member objects belong to the bootstrap superuser, not to the installer.
is( $node->safe_psql('d', q{
		SELECT count(*) FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
		WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'embed')
		  AND p.proowner <> 10}),
	'0', 'every member function is owned by the bootstrap superuser');
is($node->safe_psql('d', q{SELECT typowner FROM pg_type WHERE typname = 'vector'}),
	'10', 'the vector type is owned by the bootstrap superuser');

($ret, $out, $err) = as_role('alice', 'd', q{
	CREATE TABLE items (id int PRIMARY KEY, embedding vector(3));
	INSERT INTO items VALUES (1, '[1,2,3]'), (2, '[4,5,6]'), (3, '[1,1,1]');
	CREATE INDEX ON items (embedding);
	SELECT string_agg(id::text, ',' ORDER BY embedding <-> '[1,1,1]') FROM items;
	SELECT avg(embedding)::text FROM items;
});
is($ret, 0, 'alice can use the extension') or diag($err);
is($out, "3,1,2\n[2,2.6666667,3.3333333]", 'alice gets correct answers');

($ret, $out, $err) = as_role('bob', 'd', q{SELECT '[3,4]'::vector <-> '[0,0]'});
is($out, '5', 'other users can use the installed type') or diag($err);

# Neither a planter nor the installer may redefine the extension's objects.
$node->safe_psql('d', 'GRANT CREATE ON SCHEMA public TO mallory');
($ret, $out, $err, $code) = as_role('mallory', 'd',
	q{CREATE OR REPLACE FUNCTION public.l2_distance(vector, vector) RETURNS float8 LANGUAGE sql AS 'SELECT 0::float8'});
is($code, '42501', 'mallory cannot replace l2_distance') or diag($err);
($ret, $out, $err, $code) = as_role('alice', 'd',
	q{CREATE OR REPLACE FUNCTION public.l2_distance(vector, vector) RETURNS float8 LANGUAGE sql AS 'SELECT 0::float8'});
is($code, '42501', 'the installer cannot replace l2_distance either') or diag($err);
($ret, $out, $err, $code) = as_role('mallory', 'd', q{ALTER TYPE public.vector OWNER TO mallory});
is($code, '42501', 'mallory cannot take the vector type') or diag($err);
($ret, $out, $err, $code) = as_role('mallory', 'd', q{DROP TYPE public.vector CASCADE});
is($code, '42501', 'mallory cannot drop the vector type') or diag($err);
is($node->safe_psql('d', q{SELECT l2_distance('[0,0]', '[3,4]')}), '5', 'l2_distance unchanged');

($ret, $out, $err) = as_role('alice', 'd', 'DROP EXTENSION embed CASCADE');
is($ret, 0, 'alice can drop the extension she installed') or diag($err);
is(ext_state('d'), 'absent', 'extension gone');

##### Planted objects in the target schema

# Each case gets a fresh database owned by alice where mallory may create in
# public. The planted object carries a name the install script will create;
# a script that adopted it would leave mallory owning a piece of embed.
#
# (A shell type would be the classic plant, since CREATE TYPE vector (INPUT =
# ...) completes an existing shell and keeps its owner, but PostgreSQL only
# lets superusers create shell types; that is checked first.)
my ($sret, undef, $serr, $scode) = as_role('mallory', 'd', 'CREATE TYPE public.vector');
is($scode, '42501', 'a non-superuser cannot plant a shell type') or diag($serr);
# Nor an I/O function look-alike: cstring arguments are refused for the
# languages a non-superuser may use.
($sret, undef, $serr, $scode) = as_role('mallory', 'd',
	q{CREATE FUNCTION public.vector_in(cstring, oid, integer) RETURNS int LANGUAGE sql AS 'SELECT 1'});
is($scode, '42P13', 'a non-superuser cannot plant vector_in(cstring, oid, integer)') or diag($serr);

my @plants = (
	[
		'table named vector (its row type)',
		q{CREATE TABLE public.vector (x int)},
		'42710', qr/type "vector" already exists/,
		q{SELECT typowner::regrole || ' ' || typtype::text FROM pg_type WHERE typname = 'vector' AND typnamespace = 'public'::regnamespace},
		'mallory c',
	],
	[
		'domain named vector',
		q{CREATE DOMAIN public.vector AS real[]},
		'42710', qr/type "vector" already exists/,
		q{SELECT typowner::regrole || ' ' || typtype::text FROM pg_type WHERE typname = 'vector' AND typnamespace = 'public'::regnamespace},
		'mallory d',
	],
	[
		'function with a signature the script creates',
		# embed_simd_kernels() has no vector argument, so it can be planted
		# before the type exists; a script using CREATE OR REPLACE would
		# replace its body but keep mallory as owner.
		q{CREATE FUNCTION public.embed_simd_kernels() RETURNS SETOF text LANGUAGE sql AS $$SELECT 'planted'$$},
		'42723', qr/function "embed_simd_kernels" already exists/,
		q{SELECT proowner::regrole || ' ' || prosrc FROM pg_proc WHERE proname = 'embed_simd_kernels' AND pronamespace = 'public'::regnamespace},
		q{mallory SELECT 'planted'},
	],);


my $n = 0;
for my $p (@plants)
{
	my ($what, $plant, $want_code, $want_msg, $probe, $probe_want) = @$p;
	my $db = 'p' . ++$n;
	$node->safe_psql('postgres', "CREATE DATABASE $db OWNER alice");
	$node->safe_psql($db, 'GRANT CREATE ON SCHEMA public TO mallory');

	my ($pret, undef, $perr) = as_role('mallory', $db, $plant);
	is($pret, 0, "mallory plants a $what in public") or diag($perr);

	my ($ret, $out, $err, $code) = as_role('alice', $db, 'CREATE EXTENSION embed');
	isnt($ret, 0, "planted $what: install into public fails");
	if (defined $want_code)
	{
		is($code, $want_code, "planted $what: SQLSTATE $want_code") or diag($err);
		like($err, $want_msg, "planted $what: error names the object");
	}
	else
	{
		like($code, qr/^42(710|723)$/, "planted $what: duplicate-object error") or diag($err);
	}
	unlike($err, qr/PANIC|server closed the connection/, "planted $what: clean error");
	is(ext_state($db), 'absent', "planted $what: no extension left behind");
	is( $node->safe_psql($db, q{SELECT count(*) FROM pg_proc WHERE proname IN ('vector_in', 'l2_distance', 'vector_accum')}),
		'0', "planted $what: install rolled back completely");
	is($node->safe_psql($db, $probe), $probe_want, "planted $what: planted object untouched");

	# The same owner installs into a schema nobody else can write: works,
	# and nothing of mallory's is picked up.
	($ret, $out, $err) = as_role('alice', $db, q{
		CREATE SCHEMA ext;
		CREATE EXTENSION embed SCHEMA ext;
		SET search_path = ext, public;
		SELECT '[3,4]'::vector <-> '[0,0]';
	});
	is($ret, 0, "planted $what: install into a clean schema works") or diag($err);
	like($out, qr/^5$/m, "planted $what: clean install answers correctly");
	like( $node->safe_psql($db, q{
			SELECT count(*) FILTER (WHERE ns = 'ext'::regnamespace) || ' in ext, '
			       || count(*) FILTER (WHERE ns <> 'ext'::regnamespace) || ' elsewhere'
			FROM (SELECT CASE d.classid
			               WHEN 'pg_proc'::regclass THEN (SELECT pronamespace FROM pg_proc WHERE oid = d.objid)
			               WHEN 'pg_type'::regclass THEN (SELECT typnamespace FROM pg_type WHERE oid = d.objid)
			               WHEN 'pg_operator'::regclass THEN (SELECT oprnamespace FROM pg_operator WHERE oid = d.objid)
			             END AS ns
			      FROM pg_depend d
			      WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
			        AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'embed')
			        AND d.classid IN ('pg_proc'::regclass, 'pg_type'::regclass, 'pg_operator'::regclass)) m}),
		qr/^[1-9]\d+ in ext, 0 elsewhere$/, "planted $what: every member function, type and operator is in schema ext");
	is( $node->safe_psql($db, q{
			SELECT t.typinput::regprocedure || ' ' || t.typoutput::regprocedure
			FROM pg_type t WHERE t.typname = 'vector' AND t.typnamespace = 'ext'::regnamespace}),
		'ext.vector_in(cstring,oid,integer) ext.vector_out(ext.vector)',
		"planted $what: ext.vector uses ext's own I/O functions");
	is( $node->safe_psql($db, q{
			SELECT count(*) FROM pg_depend d
			JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'embed'
			WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
			  AND (   (d.classid = 'pg_type'::regclass AND (SELECT typowner FROM pg_type WHERE oid = d.objid) = 'mallory'::regrole)
			       OR (d.classid = 'pg_proc'::regclass AND (SELECT proowner FROM pg_proc WHERE oid = d.objid) = 'mallory'::regrole))}),
		'0', "planted $what: no object of mallory's became an extension member");
	is($node->safe_psql($db, $probe), $probe_want, "planted $what: planted object still mallory's and unchanged");
}

##### Objects planted elsewhere on the search path are not used

# mallory cannot write to ext, but plants decoys in public with names the
# script resolves without a schema: a type named vector, a function the
# script defines, and tables (hence row types) named like built-in types the
# script names unqualified. The script runs with search_path = ext, pg_temp (pg_catalog
# implicitly first), so none may be picked up even though the installing
# session has public first on its own search_path.
$node->safe_psql('postgres', 'CREATE DATABASE q OWNER alice');
$node->safe_psql('q', 'GRANT CREATE ON SCHEMA public TO mallory');
($ret, $out, $err) = as_role('mallory', 'q', q{
	CREATE TABLE public.vector (x int);
	CREATE FUNCTION public.embed_simd_kernels() RETURNS SETOF text LANGUAGE sql AS $$SELECT 'planted'$$;
	-- look-alikes of built-in types the script names unqualified
	CREATE TABLE public.bytea (x int);
	CREATE TABLE public.bit (x int);
	CREATE TABLE public.numeric (x int);
	CREATE TABLE public.oid (x int);
});
is($ret, 0, 'mallory plants decoys in public') or diag($err);
($ret, $out, $err) = as_role('alice', 'q', q{
	CREATE SCHEMA ext;
	SET search_path = public, ext;
	CREATE EXTENSION embed SCHEMA ext;
	SELECT string_agg(x, ',') FROM ext.embed_simd_kernels() x;
});
is($ret, 0, 'install into ext with public first on the caller\'s search_path works') or diag($err);
unlike($out, qr/planted/, 'the extension\'s own embed_simd_kernels is the one installed');
is( $node->safe_psql('q', q{
		SELECT oprrest::regproc::text FROM pg_operator
		WHERE oprname = '<' AND oprleft = 'ext.vector'::regtype}),
	'scalarltsel', 'operator estimator resolves to pg_catalog');
is( $node->safe_psql('q', q{
		SELECT prorettype::regtype::text FROM pg_proc
		WHERE oid IN ('ext.vector_send(ext.vector)'::regprocedure, 'ext.binary_quantize(ext.vector)'::regprocedure)
		ORDER BY proname}),
	"bit\nbytea", 'return types resolve to pg_catalog, not to planted look-alikes');
is( $node->safe_psql('q', q{
		SELECT count(*) FROM pg_proc p
		WHERE p.pronamespace = 'ext'::regnamespace
		  AND EXISTS (SELECT 1 FROM unnest(p.proargtypes::oid[] || p.prorettype) t
		              WHERE t IN (SELECT oid FROM pg_type WHERE typnamespace = 'public'::regnamespace))}),
	'0', 'no installed function takes or returns a planted type');

ok(!$node->log_contains(qr/terminated by signal/), 'no backend crash in the server log');

$node->stop;
done_testing();
