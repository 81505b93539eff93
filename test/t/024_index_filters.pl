# hnsw with selective WHERE clauses.  A plain index scan returns at most
# hnsw.ef_search candidates, so a filter that keeps 0.2% of the rows leaves
# it short; iterative scans keep going until LIMIT is met.  strict_order
# keeps distance order, relaxed_order may not but finds the same rows.  With
# a btree on the filtered column the planner should prefer it for a very
# selective filter.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $node = PostgreSQL::Test::Cluster->new('hnsw_filters');
$node->init;
$node->start;
my $db = 'postgres';
$node->safe_psql($db, 'CREATE EXTENSION embed');
load_words($node, $db, 'words');

# All 10,000 words.  rare: 20 rows (0.2%), one: 100 rows (1%).
$node->safe_psql($db, q{
	CREATE TABLE f (id int PRIMARY KEY, cat text NOT NULL, v vector(100) NOT NULL);
	INSERT INTO f
	SELECT id, CASE WHEN id % 500 = 3 THEN 'rare' WHEN id % 100 = 7 THEN 'one' ELSE 'common' END, v
	FROM words;
	CREATE INDEX f_cos ON f USING hnsw (v vector_cosine_ops) WITH (m = 16, ef_construction = 64);
	ANALYZE f;
});
is($node->safe_psql($db, q{SELECT string_agg(cat || '=' || n, ' ' ORDER BY cat) FROM (SELECT cat, count(*) n FROM f GROUP BY cat) s}),
	'common=9880 one=100 rare=20', 'category sizes');

# 50 query words, from all over the frequency range.
my $queries = 'SELECT id AS qid, v AS qv FROM words WHERE id % 200 = 11';

for my $cat (qw(rare one))
{
	my %off = knn_check($node, $db, table => 'f', op => '<=>', queries => $queries, index => 'f_cos',
		where => "cat = '$cat'", set => 'SET hnsw.iterative_scan = off;');
	is($off{queries}, 50, "$cat: 50 queries");
	# This is what iterative scans are for; it also shows the check can fail.
	cmp_ok($off{short}, '>', $off{queries} / 2, "$cat, iterative_scan off: most queries come back short ($off{short})");

	# With the default memory budget (work_mem x hnsw.scan_mem_multiplier 1),
	# then with a larger one, to tell the scan's logic from its budget.
	for my $mem ('', 'SET hnsw.scan_mem_multiplier = 20;')
	{
		my $how = $mem ? ', scan_mem_multiplier 20' : '';
		my %strict = knn_check($node, $db, table => 'f', op => '<=>', queries => $queries, index => 'f_cos',
			where => "cat = '$cat'", set => "SET hnsw.iterative_scan = strict_order; $mem");
		is($strict{short}, 0, "$cat, strict_order$how: every query gets 10 rows");
		is($strict{unordered}, 0, "$cat, strict_order$how: rows in non-decreasing distance");
		cmp_ok($strict{recall}, '>=', 0.90, "$cat, strict_order$how: recall\@10 $strict{recall} >= 0.90");

		my %relaxed = knn_check($node, $db, table => 'f', op => '<=>', queries => $queries, index => 'f_cos',
			where => "cat = '$cat'", set => "SET hnsw.iterative_scan = relaxed_order; $mem");
		is($relaxed{short}, 0, "$cat, relaxed_order$how: every query gets 10 rows");
		# knn_check's recall ignores order: the rows re-sorted are the exact answer
		cmp_ok($relaxed{recall}, '>=', 0.95, "$cat, relaxed_order$how: recall\@10 $relaxed{recall} >= 0.95");
		note "$cat$how: relaxed_order returned $relaxed{unordered} out-of-order neighbours";
	}
}

# The scan stops at hnsw.max_scan_tuples elements: with a budget of 100 the
# 20 rare rows are mostly out of reach.
my %capped = knn_check($node, $db, table => 'f', op => '<=>', queries => $queries,
	where => "cat = 'rare'", set => 'SET hnsw.iterative_scan = relaxed_order; SET hnsw.scan_mem_multiplier = 20; SET hnsw.max_scan_tuples = 100;');
cmp_ok($capped{short}, '>', 0, "max_scan_tuples = 100 cuts iterative scans short ($capped{short} queries)");

# ORDER BY ... LIMIT beyond ef_search, no filter: an iterative scan goes on,
# here (default settings) through at least half the table.
my $q = $node->safe_psql($db, 'SELECT v FROM words WHERE id = 1234');
is( $node->safe_psql($db, qq{
		SET enable_seqscan = off; SET hnsw.iterative_scan = off;
		SELECT count(*) FROM (SELECT id FROM f ORDER BY v <=> '$q' LIMIT 100) s}),
	'40', 'iterative_scan off: LIMIT 100 returns ef_search (40) rows');
is( $node->safe_psql($db, qq{
		SET enable_seqscan = off; SET hnsw.iterative_scan = strict_order;
		SELECT count(*) FROM (SELECT id FROM f ORDER BY v <=> '$q' LIMIT 100) s}),
	'100', 'strict_order: LIMIT 100 returns 100 rows');
is( $node->safe_psql($db, qq{
		SET enable_seqscan = off; SET hnsw.iterative_scan = relaxed_order;
		SELECT count(*) FROM (SELECT id FROM f ORDER BY v <=> '$q' LIMIT 5000) s}),
	'5000', 'relaxed_order: LIMIT 5000 returns 5000 rows');

##### Planner: a btree on the filter column wins for a very selective filter

$node->safe_psql($db, 'CREATE INDEX f_cat ON f (cat); ANALYZE f;');
for my $set ('', 'SET hnsw.iterative_scan = relaxed_order;')
{
	my $plan = $node->safe_psql($db,
		"$set EXPLAIN (COSTS OFF) SELECT id FROM f WHERE cat = 'rare' ORDER BY v <=> '$q' LIMIT 10");
	like($plan, qr/f_cat/, "filter on 0.2% of rows" . ($set ? ' (relaxed_order)' : '') . ': plan uses the btree')
	  or diag($plan);
	unlike($plan, qr/f_cos/, 'filter on 0.2% of rows' . ($set ? ' (relaxed_order)' : '') . ': and not hnsw')
	  or diag($plan);
}
# The answer through the btree is exact.
is( $node->safe_psql($db, qq{SELECT string_agg(id::text, ',') FROM (SELECT id FROM f WHERE cat = 'rare' ORDER BY v <=> '$q' LIMIT 10) s}),
	$node->safe_psql($db, qq{SET enable_indexscan = off; SET enable_bitmapscan = off;
		SELECT string_agg(id::text, ',') FROM (SELECT id FROM f WHERE cat = 'rare' ORDER BY v <=> '$q' LIMIT 10) s}),
	'filtered query with default settings gives the exact answer');

ok(!$node->log_contains(qr/PANIC|terminated by signal/), 'no backend crash in the server log');
$node->stop;
done_testing();
