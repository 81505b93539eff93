# hnsw, ivfflat and ivfrabitq survive crashes: after an immediate shutdown
# (no checkpoint, shared buffers lost) each index rebuilt by WAL replay holds
# every committed row and still answers well.  Replayed, for each access
# method: a CREATE INDEX, a VACUUM that frees entries, inserts into the
# freed space (all three with wal_consistency_checking, so that redo is
# compared with the pages the primary wrote), and a stream of single-row
# commits cut off mid-way.  Unlogged tables keep their index over a clean
# restart and come back empty and usable after a crash (ivf: the init fork
# keeps the centroids).  One crash covers all three access methods.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

# Only our own CHECKPOINTs: everything after one is replayed after the crash.
my $node = start_node('index_crash', "checkpoint_timeout = '1h'\nmax_wal_size = '4GB'");
my $db = 'postgres';
load_words($node, $db, 'words');

my @ams = qw(hnsw ivfflat ivfrabitq);
my $wq = 'SELECT id AS qid, v AS qv FROM words WHERE id > 9000 AND id % 6 = 0';
# recall floors after the crash: hnsw as measured before (0.97-0.99) with
# its default ef_search; ivf with probes half the lists (tables c and u grow
# well past the rows their lists were trained on)
my %floor = (hnsw => 0.95, ivfflat => 0.90, ivfrabitq => 0.90);

sub index_count_ok
{
	my ($table, $idx, $victim, $what) = @_;
	my ($count, $live) = index_count($node, $db, $table, $idx, $victim);
	is($count, $live, "$what: $idx holds exactly the $live live rows");
}

sub self_found_ok
{
	my ($am, $table, $idx, $what) = @_;
	my ($found, $checked) = self_found($node, $db, $table, '<=>', index => $idx, set => $am->{wide});
	cmp_ok($checked, '>', 0, "$what: rows to look for");
	# approximate search may miss a row now and then, a lost page many
	cmp_ok($found, '>=', 0.99 * $checked, "$what: rows find themselves through $idx ($found of $checked)");
}

sub recall_ok
{
	my ($am, $table, $idx, $what) = @_;
	my %r = knn_check($node, $db, table => $table, op => '<=>', queries => $wq, index => $idx,
		set => $am->{ivf} ? $am->{wide} : $am->{search});
	cmp_ok($r{recall}, '>=', $floor{ $am->{am} }, "$what: recall\@10 $r{recall} >= $floor{ $am->{am} }");
	is($r{short}, 0, "$what: full answers");
	order_ok($am->{unordered}, \%r, $what);
}

# Per access method: u (unlogged, 1,200 rows), b (3,000 rows, then churn),
# c (500 rows, then the stream).  ivf lists suit each table's size.
my (%u, %b, %c);
for my $name (@ams)
{
	$u{$name} = index_am($name, lists => 20);
	$b{$name} = index_am($name, lists => 30);
	$c{$name} = index_am($name, lists => 20);
}

##### Before: unlogged tables over a clean restart

for my $name (@ams)
{
	$node->safe_psql($db, qq{
		CREATE UNLOGGED TABLE u_$name (id int PRIMARY KEY, v vector(100));
		INSERT INTO u_$name SELECT id, v FROM words WHERE id <= 800;
		CREATE INDEX u_${name}_cos ON u_$name USING $name (v vector_cosine_ops) $u{$name}{with};
		INSERT INTO u_$name SELECT id, v FROM words WHERE id > 800 AND id <= 1200;
	});
}
$node->restart;
for my $name (@ams)
{
	is($node->safe_psql($db, "SELECT count(*) FROM u_$name"), '1200',
		"$name: unlogged table kept its rows over a clean restart");
	index_count_ok("u_$name", "u_${name}_cos", 1, "$name unlogged, clean restart");
	self_found_ok($u{$name}, "u_$name", "u_${name}_cos", "$name unlogged, clean restart");
}

##### The work that will be replayed

for my $name (@ams)
{
	$node->safe_psql($db, qq{
		CREATE TABLE b_$name (id int PRIMARY KEY, v vector(100));
		INSERT INTO b_$name SELECT id, v FROM words WHERE id <= 3000;
		CREATE TABLE c_$name (id int PRIMARY KEY, v vector(100));
		INSERT INTO c_$name SELECT id, v FROM words WHERE id <= 500;
		CREATE INDEX c_${name}_cos ON c_$name USING $name (v vector_cosine_ops) $c{$name}{with};
	});
}
$node->safe_psql($db, 'CHECKPOINT');
# wal_consistency_checking makes every record carry the page as written, and
# replay compare its result with it (a mismatch stops recovery).
for my $name (@ams)
{
	$node->safe_psql($db, qq{
		SET wal_consistency_checking = 'generic';
		CREATE INDEX b_${name}_cos ON b_$name USING $name (v vector_cosine_ops) $b{$name}{with};
		DELETE FROM b_$name WHERE id % 10 IN (1, 4, 7);
		VACUUM b_$name;
		INSERT INTO b_$name SELECT id, v FROM words WHERE id > 3000 AND id <= 3300;
	});
}

# Single-row commits into every c table (one statement, so one commit, per
# word), cut off by an immediate shutdown.  psql reads a file: IPC::Run
# would feed a string only while we pump it.
my $tmp = PostgreSQL::Test::Utils::tempdir;
my $stream = join ' ', 'WITH',
  join(', ', map { "i_$_ AS (INSERT INTO c_$_ SELECT id, v FROM words WHERE id = %d)" } @ams[ 0 .. $#ams - 1 ]),
  "INSERT INTO c_$ams[-1] SELECT id, v FROM words WHERE id = %d;\n";
append_to_file("$tmp/stream.sql", join '', map { my $i = $_; sprintf($stream, ($i) x @ams) } 501 .. 8000);
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', "$tmp/stream.sql" ],
	'>' => \$out, '2>' => \$err);
$node->poll_query_until($db, "SELECT count(*) >= 2000 FROM c_$ams[0]")
  or do { $h->finish; die "inserts did not get going: $err" };
$node->stop('immediate');
$h->finish;    # psql fails: the server went away
note 'psql stderr after the crash: ' . ($err =~ s/\n/ /gr);

$node->start;
like(slurp_file($node->logfile), qr/database system was interrupted|was not properly shut down/,
	'the restart ran crash recovery');
ok(!$node->log_contains(qr/inconsistent page found/), 'replay matched every page image');

##### After: the replayed CREATE INDEX, VACUUM and inserts

for my $name (@ams)
{
	is($node->safe_psql($db, "SELECT count(*) FROM b_$name"), 2100 + 300, "$name b: rows after delete and insert");
	index_count_ok("b_$name", "b_${name}_cos", 2, "$name b after crash");
	self_found_ok($b{$name}, "b_$name", "b_${name}_cos", "$name b after crash");
	recall_ok($b{$name}, "b_$name", "b_${name}_cos", "$name b after crash");
}

##### After: the interrupted stream of commits

my $n = $node->safe_psql($db, "SELECT count(*) FROM c_$ams[0]");
note "c tables hold $n rows after the crash (500 before the stream, 8000 if it had finished)";
cmp_ok($n, '>=', 2000, 'c kept the commits seen before the crash');
for my $name (@ams)
{
	is($node->safe_psql($db, "SELECT count(*) || ' ' || max(id) FROM c_$name"), "$n $n",
		"$name c: the committed rows form an unbroken run, the same in every c table");
	index_count_ok("c_$name", "c_${name}_cos", 3, "$name c after crash");
	self_found_ok($c{$name}, "c_$name", "c_${name}_cos", "$name c after crash");
	recall_ok($c{$name}, "c_$name", "c_${name}_cos", "$name c after crash");
	# The index goes on working.
	$node->safe_psql($db, "INSERT INTO c_$name SELECT id, v FROM words WHERE id > $n AND id <= $n + 500");
	index_count_ok("c_$name", "c_${name}_cos", 4, "$name c after crash and more inserts");
	self_found_ok($c{$name}, "c_$name", "c_${name}_cos", "$name c after crash and more inserts");
}

##### After: the unlogged tables are empty, and usable

my $q = $node->safe_psql($db, 'SELECT v FROM words WHERE id = 9006');
for my $name (@ams)
{
	my ($t, $idx, $set) = ("u_$name", "u_${name}_cos", $u{$name}{search});
	is($node->safe_psql($db, "SELECT count(*) FROM $t"), '0', "$name: unlogged table is empty after the crash");
	my $plan = $node->safe_psql($db,
		"SET enable_seqscan = off; $set EXPLAIN (COSTS OFF) SELECT id FROM $t ORDER BY v <=> '$q' LIMIT 10");
	like($plan, qr/Index Scan using $idx/, "$name unlogged: the query scans $idx");
	is( $node->safe_psql($db,
			"SET enable_seqscan = off; $set SELECT count(*) FROM (SELECT id FROM $t ORDER BY v <=> '$q' LIMIT 10) s"),
		'0', "$name unlogged: the reset index answers with nothing");
	$node->safe_psql($db, "INSERT INTO $t SELECT id, v FROM words WHERE id <= 1000");
	index_count_ok($t, $idx, 5, "$name unlogged, refilled after the crash");
	self_found_ok($u{$name}, $t, $idx, "$name unlogged, refilled after the crash");
	if ($u{$name}{ivf})
	{
		# The init fork kept the centroids: the refilled index answers as
		# well as a fresh one.
		recall_ok($u{$name}, $t, $idx, "$name unlogged, refilled after the crash");
	}
}

# embed_index_check: every index is whole after recovery (an ERROR fails safe_psql)
for my $name (@ams)
{
	for my $idx ("b_${name}_cos", "c_${name}_cos", "u_${name}_cos")
	{
		is($node->safe_psql($db, "SELECT heap_rows IS NOT NULL FROM embed_index_check('$idx')"), 't',
			"$name: embed_index_check finds $idx clean after the crash");
	}
}

ok(!$node->log_contains(qr/PANIC|terminated by signal 11|server process .* was terminated by signal 6/),
	'no PANIC or backend crash in the server log');
$node->stop;
done_testing();
