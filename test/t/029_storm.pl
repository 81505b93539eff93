# A storm: EMBED_STORM_CLIENTS pgbench clients (default 4) for
# EMBED_STORM_SECONDS (default 15) mix inserts, updates, deletes, VACUUMs,
# kNN queries and filtered iterative kNN queries over three tables, one per
# access method (hnsw, ivfflat, ivfrabitq).  None of these may fail (single
# row statements under READ COMMITTED meet no serialization failure or
# deadlock), and afterwards each index must answer as well as after a quiet
# build, hold exactly the live rows (VACUUM's count and embed_index_check)
# and pass embed_index_check.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

sub knob
{
	my ($name, $default) = @_;
	my $v = $ENV{$name} // '';
	return $default if $v eq '';
	die "$name must be a positive whole number" unless $v =~ /^\d+$/ && $v > 0;
	return $v;
}
my $clients = knob('EMBED_STORM_CLIENTS', 4);
my $seconds = knob('EMBED_STORM_SECONDS', 15);

# autovacuum off: the counts below read what our own VACUUM stored
my $node = start_node('storm', "max_connections = " . ($clients + 20) . "\nautovacuum = off");
my $db = 'postgres';
load_words($node, $db, 'words');
my $tmp = PostgreSQL::Test::Utils::tempdir;

my @ams = qw(hnsw ivfflat ivfrabitq);
my %am = map { $_ => index_am($_, lists => 20) } @ams;
# recall floors with the wider search (as test/t/023)
my %floor = (hnsw => 0.95, ivfflat => 0.90, ivfrabitq => 0.90);

# Words 1..3000 come and go (a word may be in a table twice); queries use
# words 9001.. that are never stored.
my @files;
for my $name (@ams)
{
	my $t = "s_$name";
	$node->safe_psql($db, qq{
		CREATE TABLE $t (id serial PRIMARY KEY, wid int NOT NULL, v vector(100) NOT NULL);
		CREATE INDEX ${t}_wid ON $t (wid);
		INSERT INTO $t (wid, v) SELECT id, v FROM words WHERE id <= 2000;
		CREATE INDEX ${t}_cos ON $t USING $name (v vector_cosine_ops) $am{$name}{with};
		ANALYZE $t;
	});
	my %scripts = (
		insert => [ 8, "\\set w random(1, 3000)\nINSERT INTO $t (wid, v) SELECT id, v FROM words WHERE id = :w;\n" ],
		update => [ 4, "\\set w random(1, 3000)\n\\set x random(1, 3000)\n"
			  . "UPDATE $t SET wid = w.id, v = w.v FROM words w WHERE w.id = :x AND $t.id = (SELECT id FROM $t WHERE wid = :w LIMIT 1);\n" ],
		delete => [ 4, "\\set w random(1, 3000)\nDELETE FROM $t WHERE wid = :w;\n" ],
		knn => [ 6, "\\set q random(9001, 10000)\n"
			  . "SELECT id FROM $t ORDER BY v <=> (SELECT v FROM words WHERE id = :q) LIMIT 10;\n" ],
		iterative => [ 2, "\\set q random(9001, 10000)\n$am{$name}{iterative}\n"
			  . "SELECT id FROM $t WHERE wid % 20 = 0 ORDER BY v <=> (SELECT v FROM words WHERE id = :q) LIMIT 5;\n"
			  . "RESET $name.iterative_scan;\n" ],
		vacuum => [ 1, "VACUUM $t;\n" ]);
	for my $op (sort keys %scripts)
	{
		my ($weight, $text) = @{ $scripts{$op} };
		my $f = "$tmp/${op}_$name.sql";
		open my $fh, '>', $f or die "$f: $!";
		print $fh $text;
		close $fh;
		push @files, '-f', "$f\@$weight";
	}
}

my %before = map { $_ => $node->safe_psql($db, "SELECT count(*) FROM s_$_") } @ams;

# Scans go through the indexes (ivf: the usual probes); only for pgbench.
my ($out, $err) = ('', '');
my $ok;
{
	local $ENV{PGOPTIONS} = join ' ', '-c enable_seqscan=off',
	  map { "-c $_.probes=$am{$_}{probes}" } grep { $am{$_}{ivf} } @ams;
	$ok = IPC::Run::run(
		[ 'pgbench', '-n', '-c', $clients, '-j', ($clients > 1 ? 2 : 1), '-T', $seconds, @files,
		  '-h', $node->host, '-p', $node->port, $db ],
		'>' => \$out, '2>' => \$err,
		IPC::Run::timeout($seconds + $PostgreSQL::Test::Utils::timeout_default));
}
my ($done) = $out =~ /^number of transactions actually processed: (\d+)/m;
my ($failed) = $out =~ /^number of failed transactions: (\d+)/m;
my @aborted = $err =~ /aborted/g;
my @errors = $err =~ /ERROR/g;
$done //= 0;
$failed //= 0;
note "pgbench: ", join(', ', $out =~ /^(latency average.*|tps.*)$/mg);
ok($ok, 'pgbench exited with status 0') or diag("stdout:\n$out\nstderr:\n$err");
cmp_ok($done, '>', 0, "the clients ran $done transactions");
is($failed + @aborted + @errors, 0, 'no failed transaction, aborted client or error') or diag($err);

for my $name (@ams)
{
	my $t = "s_$name";
	my $idx = "${t}_cos";
	my $live = $node->safe_psql($db, "SELECT count(*) FROM $t");
	note "$t: $before{$name} rows before the storm, $live after";

	knn_ok($node, $db, "$name after the storm", $floor{$name},
		table => $t, op => '<=>', index => $idx, set => $am{$name}{wide},
		unordered => $am{$name}{unordered},
		queries => 'SELECT id AS qid, v AS qv FROM words WHERE id > 9000 AND id % 6 = 0');

	is($node->safe_psql($db, "SELECT heap_rows FROM embed_index_check('$idx')"), $live,
		"$name: embed_index_check finds $idx clean, with the $live live rows");
	# VACUUM's count of the heap TIDs in the index (after one more delete)
	my ($count, $left) = index_count($node, $db, $t, $idx, "(SELECT min(id) FROM $t)");
	is($count, $left, "$name: $idx holds exactly the $left live rows");
	is($node->safe_psql($db, "SELECT heap_rows = heap_tids FROM embed_index_check('$idx')"), 't',
		"$name: after VACUUM, $idx holds no dead heap TID");
}

ok(!$node->log_contains(qr/PANIC|terminated by signal|deadlock detected/), 'no crash or deadlock in the server log');
diag sprintf('storm: %.2f minutes, %d clients, %d operations (pgbench transactions), errors: %d',
	$seconds / 60, $clients, $done, $failed + @aborted + @errors);
$node->stop;
done_testing();
