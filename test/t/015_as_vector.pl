# embed installed under pgvector's name (make install-as-vector):
#   - CREATE EXTENSION [IF NOT EXISTS] vector works and creates exactly the
#     objects CREATE EXTENSION embed does, from the same library;
#   - the two cannot share a database (they define the same types);
#   - Django-style use: a database owner (no superuser) runs the migration's
#     CREATE EXTENSION IF NOT EXISTS vector, then tables, indexes, queries;
#   - plain pg_dump files of real pgvector 0.8.6 databases
#     (test/data/pgvector-0.8.6-*dump.sql, made by
#     test/data/make-pgvector-dumps.sh) restore unedited with psql, and the
#     restored indexes answer like an exact scan, whose answers match those
#     pgvector recorded in the dump.  The sparsevec dump is skipped while
#     embed has no sparsevec type.
# Needs the alias installed: test/scripts/run-tests.sh does that
# (EMBED_AS_VECTOR=auto) unless real pgvector is installed, then this skips.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $state = $ENV{EMBED_AS_VECTOR_STATE} // '';
if ($state eq 'foreign' || $state eq 'off')
{
	plan skip_all => "embed is not installed as vector (EMBED_AS_VECTOR_STATE=$state)";
}
if ($state eq '')
{
	# run by hand: look at the installed control file
	my $sharedir = `pg_config --sharedir`;
	chomp $sharedir;
	my $control = "$sharedir/extension/vector.control";
	my $first = -f $control ? (slurp_file($control) =~ /^(.*)$/m)[0] : '';
	plan skip_all => "$control is not embed's (run make install-as-vector)"
	  unless $first =~ /embed-as-vector:/;
}

my $node = PostgreSQL::Test::Cluster->new('as_vector');
$node->init;
$node->start;

##### The same extension under two names

$node->safe_psql('postgres', 'CREATE DATABASE v; CREATE DATABASE e');
$node->safe_psql('v', 'CREATE EXTENSION IF NOT EXISTS vector');
$node->safe_psql('e', 'CREATE EXTENSION embed');
is($node->safe_psql('v', q{SELECT extversion FROM pg_extension WHERE extname = 'vector'}),
	'0.8.0', 'extension vector reports version 0.8.0 (the pgvector level of its SQL surface)');
my ($rc, $out, $err) = $node->psql('v', 'CREATE EXTENSION IF NOT EXISTS vector');
is($rc, 0, 'a second CREATE EXTENSION IF NOT EXISTS vector is a no-op');
($rc, $out, $err) = $node->psql('v', 'ALTER EXTENSION vector UPDATE');
is($rc, 0, 'ALTER EXTENSION vector UPDATE succeeds');
like($err, qr/version "0.8.0" of extension "vector" is already installed/, 'ALTER EXTENSION vector UPDATE: nothing to do');

is( $node->safe_psql('v', q{
		SELECT string_agg(DISTINCT p.probin, ',') FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
		WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'vector') AND p.prolang = 13}),
	'$libdir/embed', 'every C function of extension vector is in $libdir/embed');

my $members = q{
	SELECT string_agg(o, E'\n' ORDER BY o) FROM (
	SELECT pg_describe_object(classid, objid, objsubid) AS o
	FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = '%s')) m};
my $as_vector = $node->safe_psql('v', sprintf($members, 'vector'));
my $as_embed = $node->safe_psql('e', sprintf($members, 'embed'));
ok($as_vector eq $as_embed, 'extension vector has exactly the members of extension embed')
  or diag("vector:\n$as_vector\n\nembed:\n$as_embed");
cmp_ok(scalar(split /\n/, $as_vector), '>', 80, 'the member list is the real one');
my $types = q{SELECT string_agg(format('%s %s %s %s %s', typname, typlen, typcategory, typispreferred, typstorage), ',' ORDER BY typname)
	FROM pg_type WHERE typname IN ('vector', 'halfvec', 'sparsevec')};
is($node->safe_psql('v', $types), $node->safe_psql('e', $types), 'the types are alike');
is($node->safe_psql('v', q{SELECT l2_distance('[0,0]', '[3,4]') || ' ' || ('[1,2]'::halfvec <-> '[4,6]') || ' ' || (B'1011' <~> B'0010')}),
	'5 5 2', 'extension vector works');

($rc, $out, $err) = $node->psql('v', 'CREATE EXTENSION embed');
isnt($rc, 0, 'embed cannot be created beside extension vector');
like($err, qr/type "vector" already exists/, '... because both define type vector');
($rc, $out, $err) = $node->psql('e', 'CREATE EXTENSION vector');
isnt($rc, 0, 'nor extension vector beside embed');
$node->safe_psql('v', 'DROP EXTENSION vector; CREATE EXTENSION embed; DROP EXTENSION embed; CREATE EXTENSION vector');
pass('a database switches between the two names with DROP/CREATE EXTENSION');

##### Django-style: the migration runs as the database owner, not a superuser

$node->safe_psql('postgres', 'CREATE ROLE app LOGIN; CREATE DATABASE django OWNER app');
sub as_app
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $ret = $node->psql('django', $sql, extra_params => [ '-U', 'app' ],
		stdout => \$out, stderr => \$err, on_error_stop => 1);
	return ($ret, $out, $err);
}
($rc, $out, $err) = as_app(q{
	-- pgvector.django.VectorExtension
	CREATE EXTENSION IF NOT EXISTS vector;
	-- a model with VectorField(dimensions=3), HalfVectorField, BitField
	CREATE TABLE "app_item" ("id" bigint NOT NULL PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
		"embedding" vector(3) NULL, "half_embedding" halfvec(3) NULL, "binary_embedding" bit(3) NULL);
	-- HnswIndex / IvfflatIndex with opclasses
	CREATE INDEX "item_hnsw" ON "app_item" USING hnsw ("embedding" vector_l2_ops) WITH (m = 16, ef_construction = 64);
	CREATE INDEX "item_half_hnsw" ON "app_item" USING hnsw ("half_embedding" halfvec_cosine_ops);
	CREATE INDEX "item_bit_hnsw" ON "app_item" USING hnsw ("binary_embedding" bit_hamming_ops);
	CREATE INDEX "item_ivf" ON "app_item" USING ivfflat ("embedding" vector_cosine_ops) WITH (lists = 2);
	INSERT INTO "app_item" ("embedding", "half_embedding", "binary_embedding")
	  VALUES ('[1,1,1]', '[1,1,1]', '111'), ('[2,2,2]', '[2,2,3]', '110'), ('[1,1,2]', '[1,1,2]', '011'), (NULL, NULL, NULL);
});
is($rc, 0, 'as the database owner: CREATE EXTENSION IF NOT EXISTS vector, a model table and its indexes') or diag($err);
($rc, $out, $err) = as_app(q{
	SET enable_seqscan = off;
	-- L2Distance, CosineDistance, MaxInnerProduct, L1Distance, HammingDistance, JaccardDistance; Avg, Sum
	SELECT string_agg("id"::text, ',') FROM (SELECT "id" FROM "app_item" ORDER BY ("embedding" <-> '[3,1,2]') ASC LIMIT 5) s;
	SELECT string_agg("id"::text, ',') FROM (SELECT "id" FROM "app_item" ORDER BY ("half_embedding" <=> '[1,1,2]') ASC LIMIT 5) s;
	SELECT string_agg("id"::text, ',') FROM (SELECT "id" FROM "app_item" ORDER BY ("binary_embedding" <~> '101') ASC, "id" LIMIT 5) s;
	SELECT string_agg("id"::text || ':' || round(("embedding" <#> '[1,1,1]')::numeric, 2) || ':' || round(("embedding" <+> '[1,1,1]')::numeric, 2)
	                  || ':' || round(("binary_embedding" <%> '101')::numeric, 2), ',' ORDER BY "id")
	  FROM "app_item" WHERE "embedding" IS NOT NULL;
	SELECT AVG("embedding"), SUM("embedding"), AVG("half_embedding") FROM "app_item";
	SELECT "id" FROM "app_item" WHERE ("embedding" <-> '[1,1,1]') < 1.5 ORDER BY "id";
});
is($rc, 0, 'Django-style queries run') or diag($err);
is($out, join("\n", '2,3,1', '3,2,1', '1,2,3,4', '1:-3.00:0.00:0.33,2:-6.00:3.00:0.67,3:-4.00:1.00:0.67',
		'[1.3333334,1.3333334,1.6666666]|[4,4,5]|[1.3330078,1.3330078,2]', "1\n3"),
	'Django-style queries give the right answers');
like($node->safe_psql('django', q{SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT id FROM app_item ORDER BY embedding <-> '[3,1,2]' LIMIT 5}),
	qr/Index Scan using item_hnsw/, 'the ORDER BY uses the hnsw index');
# pgvector clients (pgvector-python's register_vector, node's pgvector) look the types up by name
is($node->safe_psql('django', q{SELECT to_regtype('vector') IS NOT NULL AND to_regtype('halfvec') IS NOT NULL}),
	't', 'client libraries find the types by name');

##### Real pgvector 0.8.6 dumps

# Restore a plain dump with psql, as-is; returns (exit status, stderr).
sub restore
{
	my ($db, $file) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', $file ],
		'>', \$out, '2>', \$err);
	return ($? >> 8, $err);
}

# embed's exact answers for one of pgvector's recorded queries against the
# recorded ones: the same distances position by position (within float
# rounding; the two sum in different orders), and the same ids except where
# distances tie.
sub answers_match
{
	my ($db, $name, $table, $expr, $queries, $where) = @_;
	$where = $where ? "WHERE $where" : '';
	my $bad = $node->safe_psql($db, qq{
		SET enable_indexscan = off; SET enable_bitmapscan = off;
		WITH mine AS (
			SELECT q.qid, array_agg(n.id ORDER BY n.d, n.id) AS ids, array_agg(n.d ORDER BY n.d, n.id) AS dists
			FROM ($queries) q CROSS JOIN LATERAL
			     (SELECT t.id, ($expr)::float8 AS d FROM $table t $where ORDER BY 2 LIMIT 10) n
			GROUP BY q.qid)
		SELECT count(*) FILTER (WHERE m.qid IS NULL) || ' ' ||
		       coalesce(sum((SELECT count(*) FROM generate_subscripts(a.ids, 1) i
		                     WHERE abs(a.dists[i] - m.dists[i]) > 1e-5 * (1 + abs(a.dists[i]))
		                        OR m.dists[i] IS NULL
		                        OR (a.ids[i] <> m.ids[i] AND
		                            NOT EXISTS (SELECT FROM generate_subscripts(a.ids, 1) j
		                                        WHERE m.ids[j] = a.ids[i]
		                                          AND abs(a.dists[j] - a.dists[i]) <= 1e-5 * (1 + abs(a.dists[i])))))), 0)
		FROM pgvector_answers a LEFT JOIN mine m USING (qid)
		WHERE a.name = '$name'});
	is($bad, '0 0', "$db: $name: embed's exact answers are pgvector's");
}

# Each index through a forced index scan against an exact scan, then
# embed_index_check.  The searches are wide enough to be exact on these
# small tables (ef_search beyond the row count, every ivf list probed).
sub index_ok
{
	my ($db, %o) = @_;
	# An hnsw element no search reaches (issue 13, item 6: not repaired yet;
	# seen on the sparse cosine graph) costs its own row: the floor allows
	# for the unreachable elements, which embed_index_check counts (the graph's
	# levels are drawn at random, so their number varies from build to build).
	my ($tuples, $unreachable) = split /\|/, $node->safe_psql($db,
		"SELECT tuples, coalesce(unreachable, 0) FROM embed_index_check('$o{index}')");
	ok($tuples > 0, "$db: embed_index_check('$o{index}') is clean (structure; $unreachable unreachable)");
	cmp_ok($unreachable, '<=', $tuples / 20, "$db: $o{index}: at most 5% of the elements unreachable");
	my $floor = $unreachable == 0 ? 1.0 : 0.95;
	my %r = knn_ok($node, $db, "$db: $o{index}", $floor, col => 'embedding', %o,
		set => 'SET hnsw.ef_search = 400; SET ivfflat.probes = 100;');
}

my $dense = EmbedTest::data_file('pgvector-0.8.6-dump.sql');
my ($restore_rc, $restore_err) = restore('r', $dense);
is($restore_rc, 0, 'the pgvector 0.8.6 dump restores unedited with psql -v ON_ERROR_STOP=1') or diag($restore_err);
unlike($restore_err, qr/ERROR|WARNING/, 'no errors or warnings during the restore') or diag($restore_err);
is( $node->safe_psql('r', q{SELECT extname || ' ' || extversion FROM pg_extension WHERE extname <> 'plpgsql'}),
	'vector 0.8.0', 'the restored database has extension vector (embed)');
is( $node->safe_psql('r', q{SELECT (SELECT count(*) FROM items) || ' ' || (SELECT count(*) FROM docs) || ' '
		|| (SELECT count(*) FROM queries) || ' ' || (SELECT count(*) FROM pgvector_answers)}),
	'252 200 20 140', 'row counts');
is( $node->safe_psql('r', q{SELECT string_agg(c.relname || ' ' || a.amname, ',' ORDER BY c.relname)
		FROM pg_class c JOIN pg_am a ON a.oid = c.relam JOIN pg_index i ON i.indexrelid = c.oid
		WHERE a.amname IN ('hnsw', 'ivfflat') AND i.indisvalid}),
	'docs_embedding_ivf ivfflat,items_bits_hamming hnsw,items_embedding_cos hnsw,items_embedding_ip ivfflat,'
	  . 'items_embedding_l2 hnsw,items_half_expr_cos hnsw,items_half_l2 hnsw',
	'every hnsw and ivfflat index is restored and valid');
is( $node->safe_psql('r', q{SELECT opcname FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0]
		WHERE indexrelid = 'docs_embedding_ivf'::regclass}),
	'vector_l2_ops', 'the ivfflat index dumped without an opclass got the default vector_l2_ops');

my $q = 'SELECT qid, embedding AS qv FROM queries';
my $qh = 'SELECT qid, embedding::halfvec(100) AS qv FROM queries';
my $qb = 'SELECT qid, binary_quantize(embedding)::bit(100) AS qv FROM queries';
index_ok('r', table => 'items', op => '<->', queries => $q, index => 'items_embedding_l2');
index_ok('r', table => 'items', op => '<=>', queries => $q, index => 'items_embedding_cos');
index_ok('r', table => 'items', op => '<#>', queries => $q, index => 'items_embedding_ip');
index_ok('r', table => 'items', op => '<->', queries => $qh, index => 'items_half_l2', col => 'half');
index_ok('r', table => 'items', op => '<=>', queries => $qh, index => 'items_half_expr_cos', col => 'embedding::halfvec(100)');
index_ok('r', table => 'items', op => '<~>', queries => $qb, index => 'items_bits_hamming', col => 'bits');
index_ok('r', table => 'docs', op => '<->', queries => $q, index => 'docs_embedding_ivf');

my $qe = 'SELECT qid, embedding FROM queries';
answers_match('r', 'items embedding <->', 'items', 't.embedding <-> q.embedding', $qe);
answers_match('r', 'items embedding <=>', 'items', 't.embedding <=> q.embedding', $qe, 't.id <> 100002');
answers_match('r', 'items embedding <#>', 'items', 't.embedding <#> q.embedding', $qe);
answers_match('r', 'items half <->', 'items', 't.half <-> q.embedding::halfvec(100)', $qe);
answers_match('r', 'items embedding::halfvec <=>', 'items', 't.embedding::halfvec(100) <=> q.embedding::halfvec(100)', $qe, 't.id <> 100002');
answers_match('r', 'items bits <~>', 'items', 't.bits <~> binary_quantize(q.embedding)::bit(100)', $qe);
answers_match('r', 'docs embedding <->', 'docs', 't.embedding <-> q.embedding', $qe);

# and the restored database dumps and restores again (now from embed)
my $redump = $node->basedir . '/r.sql';
$node->command_ok([ 'pg_dump', '-Fp', '-f', $redump, '-d', $node->connstr('r') ], 'pg_dump of the restored database');
like(slurp_file($redump), qr/^CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;$/m, 'it says CREATE EXTENSION vector');
($restore_rc, $restore_err) = restore('r2', $redump);
is($restore_rc, 0, 'and restores') or diag($restore_err);
is( $node->safe_psql('r2', q{SELECT count(*) FROM items a JOIN items b USING (id) WHERE a.embedding = b.embedding}),
	'251', 'with the same vectors');

##### The sparsevec dump

$node->safe_psql('postgres', 'CREATE DATABASE probe');
$node->safe_psql('probe', 'CREATE EXTENSION vector');
SKIP:
{
	skip 'embed has no sparsevec type yet: the sparsevec dump is not restored', 1
	  if $node->safe_psql('probe', q{SELECT to_regtype('sparsevec') IS NULL}) eq 't';

	my $sparse = EmbedTest::data_file('pgvector-0.8.6-sparsevec-dump.sql');
	($restore_rc, $restore_err) = restore('s', $sparse);
	is($restore_rc, 0, 'the pgvector 0.8.6 sparsevec dump restores unedited') or diag($restore_err);
	unlike($restore_err, qr/ERROR|WARNING/, 'no errors or warnings during the restore') or diag($restore_err);
	is( $node->safe_psql('s', q{SELECT (SELECT count(*) FROM sitems) || ' ' || (SELECT count(*) FROM squeries) || ' '
			|| (SELECT count(*) FROM pgvector_answers)}),
		'202 20 60', 'sparsevec: row counts');
	my $qs = 'SELECT qid, sv AS qv FROM squeries';
	index_ok('s', table => 'sitems', op => '<->', queries => $qs, index => 'sitems_l2', col => 'sv');
	index_ok('s', table => 'sitems', op => '<=>', queries => $qs, index => 'sitems_cos', col => 'sv');
	index_ok('s', table => 'sitems', op => '<#>', queries => $qs, index => 'sitems_ip', col => 'sv');
	my $qse = 'SELECT qid, sv FROM squeries';
	answers_match('s', 'sitems sv <->', 'sitems', 't.sv <-> q.sv', $qse);
	answers_match('s', 'sitems sv <=>', 'sitems', 't.sv <=> q.sv', $qse, 't.id <> 1002');
	answers_match('s', 'sitems sv <#>', 'sitems', 't.sv <#> q.sv', $qse);
}

ok(!$node->log_contains(qr/terminated by signal/), 'no backend crash in the server log');
$node->stop;
done_testing();
