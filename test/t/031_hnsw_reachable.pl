# Every live row of an hnsw index is reachable from its entry point.
#
# A graph built by inserts alone leaves some elements with no link to them
# (their last in-link was dropped when a neighbour re-selected its list): no
# search finds them, so their rows are invisible to index scans.  At m = 4
# on these 5,000 random 12-d rows that was 5 to 8 elements per build before
# the repair (hnswconnect.c); it links them in at the end of CREATE INDEX
# (the in-memory graph, a graph that spilled to disk, a parallel build) and
# in VACUUM.  embed_index_check counts what no descent from the entry point
# reaches; a self-query of every row (its own value, LIMIT 1) must find it.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $node = start_node('hnsw_reachable', qq{
autovacuum = off
max_worker_processes = 8
max_parallel_workers = 4
max_parallel_maintenance_workers = 0
jit = off
});
my $db = 'postgres';

# setseed makes the rows the same in every run (the graph's levels are not)
$node->safe_psql($db, q{
	SELECT setseed(0.3);
	CREATE TABLE g (id int PRIMARY KEY, v vector(12));
	INSERT INTO g SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 12)
							 WHERE i > 0)::vector
	  FROM generate_series(1, 5000) i;
	ANALYZE g;
});

sub unreachable
{
	my ($index) = @_;
	return $node->safe_psql($db, "SELECT unreachable FROM embed_index_check('$index')");
}

# Every row's own value, as a query through the index, returns that row
# first.  Reachable is not the same as found: a greedy search can still miss
# a reachable element, and the graph's levels are drawn at random (not
# seeded), so the bar allows 2 misses in ~5,000 rows: none were seen in five
# builds with the repair, 7 were without it (unreachable rows are never found).
sub self_query_ok
{
	my ($what) = @_;
	my ($found, $total) = self_found($node, $db, 'g', '<->',
		index => 'g_v', set => 'SET hnsw.ef_search = 300;');
	cmp_ok($total - $found, '<=', 2, "$what: a self-query finds all but at most 2 of the $total rows")
	  or diag("found $found of $total");
}

# CREATE INDEX with its DEBUG1 lines (which path the build took, what it linked in)
sub build
{
	my ($set) = @_;
	my ($rc, $out, $err) = $node->psql($db, qq{
		DROP INDEX IF EXISTS g_v;
		$set
		SET client_min_messages = debug1;
		CREATE INDEX g_v ON g USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 32);
	});
	is($rc, 0, 'build') or diag($err);
	return $err;
}

# 1. serial build, the whole graph in memory
my $log = build('');
like($log, qr/building index "g_v" on table "g" serially/, 'serial build');
unlike($log, qr/no longer fits/, 'the graph stayed in memory');
is(unreachable('g_v'), 0, 'in-memory build: every element is reachable');
self_query_ok('in-memory build');

# 2. the graph spills to the index's pages: the repair runs on disk
$log = build("SET maintenance_work_mem = '1MB';");
like($log, qr/hnsw graph no longer fits into maintenance_work_mem/, 'the graph spilled to disk');
is(unreachable('g_v'), 0, 'spilled build: every element is reachable');

# 3. parallel build: the leader repairs the shared graph once the workers are done
$log = build(q{
	SET max_parallel_maintenance_workers = 2;
	SET maintenance_work_mem = '256MB';
	SET min_parallel_table_scan_size = 0;
	ALTER TABLE g SET (parallel_workers = 2);
});
like($log, qr/inserting with 2 parallel workers requested/, 'parallel build');
is(unreachable('g_v'), 0, 'parallel build: every element is reachable');
$node->safe_psql($db, 'ALTER TABLE g RESET (parallel_workers)');

# 4. inserts after the build, deletes, VACUUM (which also repairs the
# neighbourhoods of the deleted elements first)
$node->safe_psql($db, q{
	SELECT setseed(0.7);
	INSERT INTO g SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 12)
							 WHERE i > 0)::vector
	  FROM generate_series(5001, 6000) i;
	DELETE FROM g WHERE id % 7 = 0 OR id BETWEEN 2000 AND 2400;
	VACUUM g;
});
is(unreachable('g_v'), 0, 'after deletes and VACUUM: every element is reachable');
my ($pages, $tuples, $heap_tids, $heap_rows) = split /\|/,
  $node->safe_psql($db, "SELECT pages, tuples, heap_tids, heap_rows FROM embed_index_check('g_v')");
is($heap_tids, $heap_rows, 'the index holds exactly the live rows');
self_query_ok('after deletes and VACUUM');

# 5. a VACUUM with nothing to remove still links in what inserts cut off
$node->safe_psql($db, q{
	SELECT setseed(0.9);
	INSERT INTO g SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 12)
							 WHERE i > 0)::vector
	  FROM generate_series(6001, 7000) i;
	VACUUM g;
});
is(unreachable('g_v'), 0, 'after inserts and a VACUUM that removed nothing: every element is reachable');

done_testing();
