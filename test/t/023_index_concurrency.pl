# hnsw, ivfflat and ivfrabitq under concurrent use: pgbench clients insert,
# delete and query through the index while another repeatedly VACUUMs the
# table.  No client may fail, and afterwards the index must hold exactly the
# live rows, find them, and answer as well as before.  One run per access
# method, each on its own table.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $node = start_node('index_concurrency', 'max_connections = 20');
my $db = 'postgres';
load_words($node, $db, 'words');

my $tmp = PostgreSQL::Test::Utils::tempdir;
my @conn = ('-h', $node->host, '-p', $node->port, $db);
# recall floors after the run: hnsw with its default ef_search (measured
# 0.97-0.99), ivf with probes half the lists (0.96-0.98)
my %floor = (hnsw => 0.95, ivfflat => 0.90, ivfrabitq => 0.90);

for my $name (qw(hnsw ivfflat ivfrabitq))
{
	note "##### $name";
	# 2,000 rows at the build, about 3,000 after the run
	my $am = index_am($name, lists => 20);
	my $t = "t_$name";
	my $idx = "${t}_cos";

	# wid: the word whose vector the row holds.  The same word may be
	# inserted twice (identical vectors share a graph element in hnsw), and
	# deleted again.
	$node->safe_psql($db, qq{
		CREATE TABLE $t (id serial PRIMARY KEY, wid int NOT NULL, v vector(100) NOT NULL);
		CREATE INDEX ${t}_wid ON $t (wid);
		INSERT INTO $t (wid, v) SELECT id, v FROM words WHERE id <= 2000;
		CREATE INDEX $idx ON $t USING $name (v vector_cosine_ops) $am->{with};
		ANALYZE $t;
	});

	my %scripts = (
		'insert.sql' => "\\set w random(1, 9000)\nINSERT INTO $t (wid, v) SELECT id, v FROM words WHERE id = :w;\n",
		'query.sql' => "\\set w random(1, 10000)\n"
		  . "SELECT id FROM $t ORDER BY v <=> (SELECT v FROM words WHERE id = :w) LIMIT 10;\n",
		'iterative.sql' => "\\set w random(1, 10000)\n"
		  . "SET $name.iterative_scan = relaxed_order;\n"
		  . "SELECT id FROM $t WHERE wid % 50 = 0 ORDER BY v <=> (SELECT v FROM words WHERE id = :w) LIMIT 5;\n"
		  . "RESET $name.iterative_scan;\n",
		'delete.sql' => "\\set w random(1, 9000)\nDELETE FROM $t WHERE wid = :w;\n",
		'vacuum.sql' => "\\sleep 100 ms\nVACUUM $t;\n");
	for my $f (keys %scripts)
	{
		open my $fh, '>', "$tmp/$f" or die;
		print $fh $scripts{$f};
		close $fh;
	}

	# Every client scans through the index: no sequential scans.  ivf:
	# probes as in the recall tests.  (Only for pgbench: the checks below
	# need their sequential scans for the exact answers.)
	# ivf transactions are several times cheaper than hnsw's: more of them,
	# so that the run overlaps the whole VACUUM loop (about a second).
	my $per_client = $am->{ivf} ? 4000 : 1000;
	my $total = 4 * $per_client;
	my ($out1, $err1, $out2, $err2) = ('', '', '', '');
	my ($ok1, $ok2);
	{
		local $ENV{PGOPTIONS} = '-c enable_seqscan=off' . ($am->{ivf} ? " -c $name.probes=$am->{probes}" : '');
		my $work = IPC::Run::start(
			[ 'pgbench', '-n', '-M', 'prepared', '-c', '4', '-j', '2', '-t', $per_client,
			  '-f', "$tmp/insert.sql\@6", '-f', "$tmp/query.sql\@4", '-f', "$tmp/iterative.sql\@1",
			  '-f', "$tmp/delete.sql\@3", @conn ],
			'>' => \$out1, '2>' => \$err1);
		my $vac = IPC::Run::start(
			[ 'pgbench', '-n', '-c', '1', '-t', '10', '-f', "$tmp/vacuum.sql", @conn ],
			'>' => \$out2, '2>' => \$err2);
		$ok1 = $work->finish;
		$ok2 = $vac->finish;
	}
	note 'workers: ', join(', ', $out1 =~ /^(latency average.*|tps.*)$/mg);
	note 'vacuum loop: ', join(', ', $out2 =~ /^(latency average.*|tps.*)$/mg);
	ok($ok1, "$name: pgbench workers exited with status 0") or diag("stdout:\n$out1\nstderr:\n$err1");
	ok($ok2, "$name: pgbench VACUUM loop exited with status 0") or diag("stdout:\n$out2\nstderr:\n$err2");
	unlike($err1 . $err2, qr/ERROR|FATAL|PANIC|abort/i, "$name: no client reported an error") or diag($err1 . $err2);
	like($out1, qr/number of transactions actually processed: $total\/$total/, "$name: all $total transactions done")
	  or diag($out1);
	like($out2, qr/number of transactions actually processed: 10\/10/, "$name: all 10 VACUUMs done") or diag($out2);

	my ($rows, $dups) = split /\|/, $node->safe_psql($db, "SELECT count(*), count(*) - count(DISTINCT wid) FROM $t");
	note "after the run: $rows rows, $dups repeated words";
	cmp_ok($rows, '>', 2000, "$name: the table grew");

	# No dead row left in the index, no live row missing.
	my ($count, $live) = index_count($node, $db, $t, $idx, "(SELECT min(id) FROM $t)");
	is($count, $live, "$idx holds exactly the $live live rows");

	# Every live row reachable through the index (allowing approximate
	# misses).  ivf: a row is filed under its nearest centroid, so the usual
	# probes find it.
	my ($found, $checked) = self_found($node, $db, $t, '<=>', index => $idx,
		set => $am->{ivf} ? $am->{search} : $am->{wide});
	cmp_ok($found, '>=', 0.99 * $checked, "$name: live rows find themselves ($found of $checked)");

	my %r = knn_check($node, $db, table => $t, op => '<=>', index => $idx,
		set => $am->{ivf} ? $am->{wide} : $am->{search},
		queries => 'SELECT id AS qid, v AS qv FROM words WHERE id > 9000 AND id % 6 = 0');
	cmp_ok($r{recall}, '>=', $floor{$name}, "$name: recall\@10 after the concurrent run: $r{recall}");
	is($r{short} + $r{missing}, 0, "$name: full answers, of live rows only");
	order_ok($am->{unordered}, \%r, $name);

	# An iterative scan over the whole index returns each live row at most once.
	my $full = $name eq 'hnsw'
	  ? 'SET hnsw.max_scan_tuples = 100000; SET hnsw.scan_mem_multiplier = 10;'
	  : '';    # ivf: max_probes defaults to every list
	my ($n, $distinct) = split /\|/, $node->safe_psql($db, qq{
		SET enable_seqscan = off; $am->{search} $am->{iterative} $full
		SELECT count(*), count(DISTINCT id)
		FROM (SELECT id FROM $t ORDER BY v <=> (SELECT v FROM words WHERE id = 9001) LIMIT 100000) s});
	is($distinct, $n, "$name: a full iterative scan returns no row twice");
	cmp_ok($n, '>=', 0.99 * $live, "$name: a full iterative scan reaches (nearly) every live row ($n of $live)");

	# the structure after the storm, and every live row indexed
	is($node->safe_psql($db, "SELECT heap_rows FROM embed_index_check('$idx')"), $live,
		"$name: embed_index_check finds $idx clean, with the $live live rows");
}

ok(!$node->log_contains(qr/PANIC|terminated by signal|deadlock detected/), 'no crash or deadlock in the server log');
$node->stop;
done_testing();
