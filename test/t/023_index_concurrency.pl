# hnsw under concurrent use: pgbench clients insert, delete and query
# through the index while another repeatedly VACUUMs the table.  No client
# may fail, and afterwards the index must hold exactly the live rows, find
# them, and answer as well as before.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $node = PostgreSQL::Test::Cluster->new('hnsw_concurrency');
$node->init;
$node->append_conf('postgresql.conf', 'max_connections = 20');
$node->start;
my $db = 'postgres';
$node->safe_psql($db, 'CREATE EXTENSION embed');
load_words($node, $db, 'words');

# wid: the word whose vector the row holds.  The same word may be inserted
# twice (identical vectors share a graph element), and deleted again.
$node->safe_psql($db, q{
	CREATE TABLE t (id serial PRIMARY KEY, wid int NOT NULL, v vector(100) NOT NULL);
	CREATE INDEX t_wid ON t (wid);
	INSERT INTO t (wid, v) SELECT id, v FROM words WHERE id <= 2000;
	CREATE INDEX t_cos ON t USING hnsw (v vector_cosine_ops) WITH (m = 16, ef_construction = 64);
	ANALYZE t;
});

my $tmp = PostgreSQL::Test::Utils::tempdir;
my %scripts = (
	'insert.sql' => "\\set w random(1, 9000)\nINSERT INTO t (wid, v) SELECT id, v FROM words WHERE id = :w;\n",
	'query.sql' => "\\set w random(1, 10000)\n"
	  . "SELECT id FROM t ORDER BY v <=> (SELECT v FROM words WHERE id = :w) LIMIT 10;\n",
	'iterative.sql' => "\\set w random(1, 10000)\n"
	  . "SET hnsw.iterative_scan = relaxed_order;\n"
	  . "SELECT id FROM t WHERE wid % 50 = 0 ORDER BY v <=> (SELECT v FROM words WHERE id = :w) LIMIT 5;\n"
	  . "RESET hnsw.iterative_scan;\n",
	'delete.sql' => "\\set w random(1, 9000)\nDELETE FROM t WHERE wid = :w;\n",
	'vacuum.sql' => "\\sleep 100 ms\nVACUUM t;\n");
for my $f (keys %scripts)
{
	open my $fh, '>', "$tmp/$f" or die;
	print $fh $scripts{$f};
	close $fh;
}

# Every client scans through the index: no sequential scans.
local $ENV{PGOPTIONS} = '-c enable_seqscan=off';
my @conn = ('-h', $node->host, '-p', $node->port, $db);
my ($out1, $err1, $out2, $err2) = ('', '', '', '');
my $work = IPC::Run::start(
	[ 'pgbench', '-n', '-M', 'prepared', '-c', '4', '-j', '2', '-t', '1000',
	  '-f', "$tmp/insert.sql\@6", '-f', "$tmp/query.sql\@4", '-f', "$tmp/iterative.sql\@1",
	  '-f', "$tmp/delete.sql\@3", @conn ],
	'>' => \$out1, '2>' => \$err1);
my $vac = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-t', '10', '-f', "$tmp/vacuum.sql", @conn ],
	'>' => \$out2, '2>' => \$err2);
my $ok1 = $work->finish;
my $ok2 = $vac->finish;
note 'workers: ', join(', ', $out1 =~ /^(duration.*|tps.*)$/mg);
note 'vacuum loop: ', join(', ', $out2 =~ /^(latency average.*|tps.*)$/mg);
ok($ok1, 'pgbench workers exited with status 0') or diag("stdout:\n$out1\nstderr:\n$err1");
ok($ok2, 'pgbench VACUUM loop exited with status 0') or diag("stdout:\n$out2\nstderr:\n$err2");
unlike($err1 . $err2, qr/ERROR|FATAL|PANIC|abort/i, 'no client reported an error') or diag($err1 . $err2);
like($out1, qr/number of transactions actually processed: 4000\/4000/, 'all 4,000 transactions done')
  or diag($out1);
like($out2, qr/number of transactions actually processed: 10\/10/, 'all 10 VACUUMs done') or diag($out2);

my ($rows, $dups) = split /\|/, $node->safe_psql($db, 'SELECT count(*), count(*) - count(DISTINCT wid) FROM t');
note "after the run: $rows rows, $dups repeated words";
cmp_ok($rows, '>', 2000, 'the table grew');

# No dead row left in the graph, no live row missing: VACUUM (with a dead
# row and INDEX_CLEANUP ON, so that bulkdelete runs) counts the heap TIDs the
# index holds.
$node->safe_psql($db, 'DELETE FROM t WHERE id = (SELECT min(id) FROM t); VACUUM (INDEX_CLEANUP ON) t;');
my $live = $node->safe_psql($db, 'SELECT count(*) FROM t');
is($node->safe_psql($db, q{SELECT reltuples::int FROM pg_class WHERE relname = 't_cos'}),
	$live, "t_cos holds exactly the $live live rows");

# Every live row reachable through the graph (allowing approximate misses).
my ($found, $checked) = self_found($node, $db, 't', '<=>', index => 't_cos', set => 'SET hnsw.ef_search = 100;');
cmp_ok($found, '>=', 0.99 * $checked, "live rows find themselves ($found of $checked)");

my %r = knn_check($node, $db, table => 't', op => '<=>', index => 't_cos',
	queries => 'SELECT id AS qid, v AS qv FROM words WHERE id > 9000 AND id % 6 = 0');
cmp_ok($r{recall}, '>=', 0.95, "recall\@10 after the concurrent run: $r{recall}");
is($r{short} + $r{unordered} + $r{missing}, 0, 'full answers, in distance order, of live rows only');

# An iterative scan over the whole graph returns each live row at most once.
my ($n, $distinct) = split /\|/, $node->safe_psql($db, q{
	SET enable_seqscan = off; SET hnsw.iterative_scan = relaxed_order; SET hnsw.max_scan_tuples = 100000;
	SET hnsw.scan_mem_multiplier = 10;
	SELECT count(*), count(DISTINCT id)
	FROM (SELECT id FROM t ORDER BY v <=> (SELECT v FROM words WHERE id = 9001) LIMIT 100000) s});
is($distinct, $n, 'a full iterative scan returns no row twice');
cmp_ok($n, '>=', 0.99 * $live, "a full iterative scan reaches (nearly) every live row ($n of $live)");

ok(!$node->log_contains(qr/PANIC|terminated by signal|deadlock detected/), 'no crash or deadlock in the server log');
$node->stop;
done_testing();
