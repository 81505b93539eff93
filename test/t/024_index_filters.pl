# hnsw, ivfflat and ivfrabitq with selective WHERE clauses.  A plain index
# scan returns at most what one search reaches (hnsw: ef_search candidates;
# ivf: the rows of the probed lists), so a filter that keeps 1%, 0.2% or
# 0.1% of the rows leaves it short; iterative scans keep going until LIMIT
# is met.  strict_order (hnsw) keeps distance order, relaxed_order may not
# but finds the same rows.  With a btree on the filtered column the planner
# should prefer it for a very selective filter.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $node = start_node('index_filters');
my $db = 'postgres';
load_words($node, $db, 'words');

# All 10,000 words.  rare: 20 rows (0.2%), one: 100 rows (1%); the rare rows
# with id % 1000 = 3 are 10 rows (0.1%).
$node->safe_psql($db, q{
	CREATE TABLE f (id int PRIMARY KEY, cat text NOT NULL, v vector(100) NOT NULL);
	INSERT INTO f
	SELECT id, CASE WHEN id % 500 = 3 THEN 'rare' WHEN id % 100 = 7 THEN 'one' ELSE 'common' END, v
	FROM words;
	ANALYZE f;
});
is($node->safe_psql($db, q{SELECT string_agg(cat || '=' || n, ' ' ORDER BY cat) FROM (SELECT cat, count(*) n FROM f GROUP BY cat) s}),
	'common=9880 one=100 rare=20', 'category sizes');
my %filter = (one => "cat = 'one'", rare => "cat = 'rare'", tenth => "cat = 'rare' AND id % 1000 = 3");
is($node->safe_psql($db, "SELECT count(*) FROM f WHERE $filter{tenth}"), '10', 'tenth: 10 rows');

# 50 query words, from all over the frequency range.
my $queries = 'SELECT id AS qid, v AS qv FROM words WHERE id % 200 = 11';
my $q = $node->safe_psql($db, 'SELECT v FROM words WHERE id = 1234');

# Per access method:
#   filters    which of %filter to check
#   off        SET commands for a plain scan that the filters leave short
#   modes      [label, SET commands, strict order?, recall floor] of
#              iterative scans that must answer in full
#   capped     SET commands for an iterative scan with a budget too small
#              to reach the 20 rare rows
#   plain      [SET commands, LIMIT, rows returned] for one unfiltered plain scan
my %spec = (
	hnsw => {
		filters => [qw(rare one)],
		off => 'SET hnsw.iterative_scan = off;',
		# With the default memory budget (work_mem x hnsw.scan_mem_multiplier
		# 1), then with a larger one, to tell the scan's logic from its budget.
		modes => [
			map {
				my ($how, $mem) = @$_;
				([ "strict_order$how", "SET hnsw.iterative_scan = strict_order; $mem", 1, 0.90 ],
				 [ "relaxed_order$how", "SET hnsw.iterative_scan = relaxed_order; $mem", 0, 0.95 ])
			} ([ '', '' ], [ ', scan_mem_multiplier 20', 'SET hnsw.scan_mem_multiplier = 20;' ])
		],
		capped => 'SET hnsw.iterative_scan = relaxed_order; SET hnsw.scan_mem_multiplier = 20; SET hnsw.max_scan_tuples = 100;',
		plain => [ 'SET hnsw.iterative_scan = off;', 100, 40 ],    # ef_search rows
	});
for my $name (qw(ivfflat ivfrabitq))
{
	# lists 100: about 100 rows a list.  An iterative scan stops as soon as
	# LIMIT rows pass the filter; they come from the nearest lists that hold
	# matching rows, which need not hold the nearest matching rows, so recall
	# is what the batch size (probes) gives on the filtered rows: measured
	# 0.57-0.75 with 4 lists a batch and 0.80 with 25 for 1% and 0.2%, and 1.0
	# for 0.1% (LIMIT 10 needs all 10 rows).  Matching rows taken from lists
	# in no particular order would give about 0.1.
	$spec{$name} = {
		filters => [qw(tenth rare one)],
		off => "SET $name.probes = 4;",
		modes => [
			[ 'relaxed_order, 4 lists a batch', "SET $name.probes = 4; SET $name.iterative_scan = relaxed_order;", 0, 0.45 ],
			[ 'relaxed_order, 25 lists a batch', "SET $name.probes = 25; SET $name.iterative_scan = relaxed_order;", 0, 0.70 ],
		],
		capped => "SET $name.probes = 4; SET $name.iterative_scan = relaxed_order; SET $name.max_probes = 8;",
		plain => [ "SET $name.probes = 1;", 5000, undef ],    # one list's rows: checked below
	};
}

for my $name (qw(hnsw ivfflat ivfrabitq))
{
	note "##### $name";
	my $s = $spec{$name};
	my $idx = "f_${name}";
	$node->safe_psql($db, "CREATE INDEX $idx ON f USING $name (v vector_cosine_ops) "
		  . index_am($name, lists => 100)->{with} . '; ANALYZE f;');

	for my $cat (@{ $s->{filters} })
	{
		my %off = knn_check($node, $db, table => 'f', op => '<=>', queries => $queries, index => $idx,
			where => $filter{$cat}, set => $s->{off});
		is($off{queries}, 50, "$name $cat: 50 queries");
		# This is what iterative scans are for; it also shows the check can fail.
		cmp_ok($off{short}, '>', $off{queries} / 2, "$name $cat, iterative_scan off: most queries come back short ($off{short})");

		for my $mode (@{ $s->{modes} })
		{
			my ($how, $set, $strict, $floor) = @$mode;
			my %r = knn_check($node, $db, table => 'f', op => '<=>', queries => $queries, index => $idx,
				where => $filter{$cat}, set => $set);
			is($r{short}, 0, "$name $cat, $how: every query gets 10 rows");
			# knn_check's recall ignores order: with relaxed_order the rows
			# re-sorted are the exact answer
			cmp_ok($r{recall}, '>=', $floor, "$name $cat, $how: recall\@10 $r{recall} >= $floor");
			if ($strict)
			{
				is($r{unordered}, 0, "$name $cat, $how: rows in non-decreasing distance");
			}
			else
			{
				note "$name $cat, $how: returned $r{unordered} out-of-order neighbours";
			}
		}
	}

	# A budget too small: the 20 rare rows are mostly out of reach.
	my %capped = knn_check($node, $db, table => 'f', op => '<=>', queries => $queries,
		where => $filter{rare}, set => $s->{capped});
	cmp_ok($capped{short}, '>', 0, "$name: a capped iterative scan comes back short ($capped{short} queries)");

	# ORDER BY ... LIMIT beyond what one search returns, no filter: an
	# iterative scan goes on, here through at least half the table.
	my ($plain_set, $plain_limit, $plain_rows) = @{ $s->{plain} };
	my $plain = $node->safe_psql($db, qq{
		SET enable_seqscan = off; $plain_set
		SELECT count(*) FROM (SELECT id FROM f ORDER BY v <=> '$q' LIMIT $plain_limit) s});
	if (defined $plain_rows)
	{
		is($plain, $plain_rows, "$name iterative_scan off: LIMIT $plain_limit returns $plain_rows rows");
	}
	else
	{
		# ivf: the nearest list, a hundred-odd rows
		cmp_ok($plain, '<', 1000, "$name, one probe, iterative_scan off: LIMIT $plain_limit returns one list's rows ($plain)");
		cmp_ok($plain, '>', 0, "$name, one probe: the list is not empty");
	}
	if ($name eq 'hnsw')
	{
		is( $node->safe_psql($db, qq{
				SET enable_seqscan = off; SET hnsw.iterative_scan = strict_order;
				SELECT count(*) FROM (SELECT id FROM f ORDER BY v <=> '$q' LIMIT 100) s}),
			'100', 'hnsw strict_order: LIMIT 100 returns 100 rows');
	}
	is( $node->safe_psql($db, qq{
			SET enable_seqscan = off; $plain_set SET $name.iterative_scan = relaxed_order;
			SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM f ORDER BY v <=> '$q' LIMIT 5000) s}),
		'5000|5000', "$name relaxed_order: LIMIT 5000 returns 5000 rows, each once");

	##### Planner: a btree on the filter column wins for a very selective filter

	$node->safe_psql($db, 'CREATE INDEX f_cat ON f (cat); ANALYZE f;');
	for my $set ('', "SET $name.iterative_scan = relaxed_order;")
	{
		my $plan = $node->safe_psql($db,
			"$set EXPLAIN (COSTS OFF) SELECT id FROM f WHERE cat = 'rare' ORDER BY v <=> '$q' LIMIT 10");
		like($plan, qr/f_cat/, "$name: filter on 0.2% of rows" . ($set ? ' (relaxed_order)' : '') . ': plan uses the btree')
		  or diag($plan);
		unlike($plan, qr/$idx/, "$name: filter on 0.2% of rows" . ($set ? ' (relaxed_order)' : '') . ": and not $name")
		  or diag($plan);
	}
	# The answer through the btree is exact.
	is( $node->safe_psql($db, qq{SELECT string_agg(id::text, ',') FROM (SELECT id FROM f WHERE cat = 'rare' ORDER BY v <=> '$q' LIMIT 10) s}),
		$node->safe_psql($db, qq{SET enable_indexscan = off; SET enable_bitmapscan = off;
			SELECT string_agg(id::text, ',') FROM (SELECT id FROM f WHERE cat = 'rare' ORDER BY v <=> '$q' LIMIT 10) s}),
		"$name: filtered query with default settings gives the exact answer");
	$node->safe_psql($db, "DROP INDEX f_cat, $idx");
}

ok(!$node->log_contains(qr/PANIC|terminated by signal/), 'no backend crash in the server log');
$node->stop;
done_testing();
