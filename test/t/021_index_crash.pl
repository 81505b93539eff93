# hnsw survives crashes: after an immediate shutdown (no checkpoint, shared
# buffers lost) the index rebuilt by WAL replay holds every committed row and
# still answers well.  Replayed: a CREATE INDEX, a VACUUM that frees
# elements, inserts into the freed space (all three with
# wal_consistency_checking, so that redo is compared with the pages the
# primary wrote), and a stream of single-row commits cut off mid-way.
# Unlogged tables keep their index over a clean restart and come back empty
# and usable after a crash.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $node = PostgreSQL::Test::Cluster->new('hnsw_crash');
$node->init;
# Only our own CHECKPOINTs: everything after one is replayed after the crash.
$node->append_conf('postgresql.conf', "checkpoint_timeout = '1h'\nmax_wal_size = '4GB'");
$node->start;
my $db = 'postgres';
$node->safe_psql($db, 'CREATE EXTENSION embed');
load_words($node, $db, 'words');

my $with = 'WITH (m = 16, ef_construction = 64)';
my $wq = 'SELECT id AS qid, v AS qv FROM words WHERE id > 9000 AND id % 6 = 0';

# What the index holds, exactly: VACUUM counts the heap TIDs in the graph when
# it has a dead row to remove, and stores the count as the index's reltuples
# (INDEX_CLEANUP ON: for a few dead rows PostgreSQL would skip the indexes).
sub index_count_ok
{
	my ($table, $idx, $victim, $what) = @_;
	$node->safe_psql($db, "DELETE FROM $table WHERE id = $victim; VACUUM (INDEX_CLEANUP ON) $table;");
	my $live = $node->safe_psql($db, "SELECT count(*) FROM $table");
	is($node->safe_psql($db, "SELECT reltuples::int FROM pg_class WHERE relname = '$idx'"),
		$live, "$what: $idx holds exactly the $live live rows");
}

sub self_found_ok
{
	my ($table, $idx, $what) = @_;
	my ($found, $checked) = self_found($node, $db, $table, '<=>', index => $idx,
		set => 'SET hnsw.ef_search = 100;');
	cmp_ok($checked, '>', 0, "$what: rows to look for");
	# approximate search may miss a row now and then, a lost page many
	cmp_ok($found, '>=', 0.99 * $checked, "$what: rows find themselves through $idx ($found of $checked)");
}

sub recall_ok
{
	my ($table, $idx, $what) = @_;
	my %r = knn_check($node, $db, table => $table, op => '<=>', queries => $wq, index => $idx);
	cmp_ok($r{recall}, '>=', 0.95, "$what: recall\@10 $r{recall} >= 0.95");
	is($r{short} + $r{unordered}, 0, "$what: full answers in distance order");
}

##### Before: unlogged table over a clean restart

$node->safe_psql($db, qq{
	CREATE UNLOGGED TABLE u (id int PRIMARY KEY, v vector(100));
	INSERT INTO u SELECT id, v FROM words WHERE id <= 800;
	CREATE INDEX u_cos ON u USING hnsw (v vector_cosine_ops) $with;
	INSERT INTO u SELECT id, v FROM words WHERE id > 800 AND id <= 1200;
});
$node->restart;
is($node->safe_psql($db, 'SELECT count(*) FROM u'), '1200', 'unlogged table kept its rows over a clean restart');
index_count_ok('u', 'u_cos', 1, 'unlogged, clean restart');
self_found_ok('u', 'u_cos', 'unlogged, clean restart');

##### The work that will be replayed

$node->safe_psql($db, qq{
	CREATE TABLE b (id int PRIMARY KEY, v vector(100));
	INSERT INTO b SELECT id, v FROM words WHERE id <= 3000;
	CREATE TABLE c (id int PRIMARY KEY, v vector(100));
	INSERT INTO c SELECT id, v FROM words WHERE id <= 500;
	CREATE INDEX c_cos ON c USING hnsw (v vector_cosine_ops) $with;
	CHECKPOINT;
});
# wal_consistency_checking makes every record carry the page as written, and
# replay compare its result with it (a mismatch stops recovery).
$node->safe_psql($db, qq{
	SET wal_consistency_checking = 'generic';
	CREATE INDEX b_cos ON b USING hnsw (v vector_cosine_ops) $with;
	DELETE FROM b WHERE id % 10 IN (1, 4, 7);
	VACUUM b;
	INSERT INTO b SELECT id, v FROM words WHERE id > 3000 AND id <= 3300;
});

# Single-row commits into c, cut off by an immediate shutdown.  psql reads a
# file: IPC::Run would feed a string only while we pump it.
my $tmp = PostgreSQL::Test::Utils::tempdir;
append_to_file("$tmp/stream.sql",
	join '', map { "INSERT INTO c SELECT id, v FROM words WHERE id = $_;\n" } 501 .. 8000);
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', "$tmp/stream.sql" ],
	'>' => \$out, '2>' => \$err);
$node->poll_query_until($db, 'SELECT count(*) >= 2000 FROM c')
  or do { $h->finish; die "inserts did not get going: $err" };
$node->stop('immediate');
$h->finish;    # psql fails: the server went away
note 'psql stderr after the crash: ' . ($err =~ s/\n/ /gr);

$node->start;
like(slurp_file($node->logfile), qr/database system was interrupted|was not properly shut down/,
	'the restart ran crash recovery');
ok(!$node->log_contains(qr/inconsistent page found/), 'replay matched every page image');

##### After: the replayed CREATE INDEX, VACUUM and inserts

is($node->safe_psql($db, 'SELECT count(*) FROM b'), 2100 + 300, 'b: rows after delete and insert');
index_count_ok('b', 'b_cos', 2, 'b after crash');
self_found_ok('b', 'b_cos', 'b after crash');
recall_ok('b', 'b_cos', 'b after crash');

##### After: the interrupted stream of commits

my $n = $node->safe_psql($db, 'SELECT count(*) FROM c');
note "c holds $n rows after the crash (500 before the stream, 8000 if it had finished)";
cmp_ok($n, '>=', 2000, 'c kept the commits seen before the crash');
is($node->safe_psql($db, 'SELECT max(id) FROM c'), $n, 'c: the committed rows form an unbroken run');
index_count_ok('c', 'c_cos', 3, 'c after crash');
self_found_ok('c', 'c_cos', 'c after crash');
recall_ok('c', 'c_cos', 'c after crash');
# The index goes on working.
$node->safe_psql($db, "INSERT INTO c SELECT id, v FROM words WHERE id > $n AND id <= $n + 500");
index_count_ok('c', 'c_cos', 4, 'c after crash and more inserts');
self_found_ok('c', 'c_cos', 'c after crash and more inserts');

##### After: the unlogged table is empty, and usable

is($node->safe_psql($db, 'SELECT count(*) FROM u'), '0', 'unlogged table is empty after the crash');
my $q = $node->safe_psql($db, 'SELECT v FROM words WHERE id = 9006');
my $plan = $node->safe_psql($db,
	"SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM u ORDER BY v <=> '$q' LIMIT 10");
like($plan, qr/Index Scan using u_cos/, 'unlogged: the query scans u_cos');
is( $node->safe_psql($db,
		"SET enable_seqscan = off; SELECT count(*) FROM (SELECT id FROM u ORDER BY v <=> '$q' LIMIT 10) s"),
	'0', 'unlogged: the reset index answers with nothing');
$node->safe_psql($db, 'INSERT INTO u SELECT id, v FROM words WHERE id <= 1000');
index_count_ok('u', 'u_cos', 5, 'unlogged, refilled after the crash');
self_found_ok('u', 'u_cos', 'unlogged, refilled after the crash');

ok(!$node->log_contains(qr/PANIC|terminated by signal 11|server process .* was terminated by signal 6/),
	'no PANIC or backend crash in the server log');
$node->stop;
done_testing();
