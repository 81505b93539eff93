# What is particular to the inverted-file indexes (ivfflat, ivfrabitq):
#
# - An index built on a small or empty table gets fewer lists (rows / 16, at
#   least one) and says so; as the table grows to 25 times its size, recall
#   stays acceptable with half those lists probed, more probes never lower it,
#   and embed_index_recall() tracks what knn_check measures.  After the
#   REINDEX the NOTICE advises, the index has its full list count and
#   answers well with a quarter of the lists probed.
# - The checks the other tests rely on (VACUUM's count of index entries,
#   rows finding themselves, recall floors) fail for an index that lost
#   the contents of pages holding a fifth of its entries (rewritten empty
#   with the server stopped).  REINDEX repairs it.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $node = start_node('ivf_lists');
my $db = 'postgres';
load_words($node, $db, 'words');

# Queries: 166 words that are never put in a table below.
my $wq = 'SELECT id AS qid, v AS qv FROM words WHERE id > 9000 AND id % 6 = 0';

sub recall
{
	my ($table, $set, %o) = @_;
	my %r = knn_check($node, $db, table => $table, op => '<=>', queries => $wq, set => $set, %o);
	return %r;
}

# embed_index_recall over 100 sampled rows, under $set
sub index_recall
{
	my ($idx, $set) = @_;
	return sprintf('%.4f', $node->safe_psql($db, "$set SELECT embed_index_recall('$idx', 100)"));
}

for my $name (qw(ivfflat ivfrabitq))
{
	note "##### $name";
	my $am = index_am($name, lists => 50);    # for 5,000 rows
	my $idx = "g_${name}";

	##### Built on 200 rows, grown to 5,000

	my ($ret, $out, $err) = $node->psql($db, qq{
		CREATE TABLE g (id int PRIMARY KEY, v vector(100));
		INSERT INTO g SELECT id, v FROM words WHERE id <= 200;
		CREATE INDEX $idx ON g USING $name (v vector_cosine_ops) $am->{with};
	});
	is($ret, 0, "$name: index built on 200 rows");
	like($err, qr/NOTICE:  $name index built with 12 lists instead of 50: the table has 200 indexable rows/,
		"$name: 200 rows get 12 lists, and a NOTICE says so");
	like($err, qr/HINT:  REINDEX once the table holds most of its data/, "$name: the hint advises REINDEX");
	$node->safe_psql($db, 'INSERT INTO g SELECT id, v FROM words WHERE id > 200 AND id <= 5000; ANALYZE g;');

	# Half of the 12 lists: measured 0.95.  A quarter (3): 0.83.
	my %r = recall('g', "SET $name.probes = 6;", index => $idx);
	cmp_ok($r{recall}, '>=', 0.90, "$name grown 25-fold, 6 of 12 lists probed: recall\@10 $r{recall} >= 0.90");
	is($r{short} + $r{missing}, 0, "$name grown: full answers of the table's rows");

	# More probes never lower recall, and embed_index_recall (whose queries
	# are rows of the table, so it reads a little higher) follows knn_check.
	my (@knn, @eir);
	for my $p (1, 3, 6, 12)
	{
		my $set = "SET $name.probes = $p;";
		my %rp = recall('g', $set);
		push @knn, $rp{recall};
		push @eir, index_recall($idx, $set);
		cmp_ok(abs($eir[-1] - $knn[-1]), '<=', 0.10,
			"$name grown, probes $p: embed_index_recall $eir[-1] is within 0.10 of knn_check's $knn[-1]");
	}
	note "$name grown: knn_check @knn, embed_index_recall @eir for probes 1, 3, 6, 12";
	ok($knn[0] <= $knn[1] && $knn[1] <= $knn[2] && $knn[2] <= $knn[3], "$name grown: recall grows with probes (@knn)");
	cmp_ok($knn[3], '>=', 0.99, "$name grown, every list probed: recall\@10 $knn[3] is (nearly) exact");
	cmp_ok($eir[0], '<=', $eir[2] - 0.2, "$name grown: embed_index_recall sees the difference probes make (@eir)");

	# REINDEX: 50 lists follow the 5,000 rows; a quarter of them probed.
	($ret, $out, $err) = $node->psql($db, "REINDEX INDEX $idx");
	is($ret, 0, "$name: REINDEX");
	unlike($err, qr/NOTICE/, "$name: REINDEX on 5,000 rows builds all 50 lists");
	%r = recall('g', $am->{search}, index => $idx);
	cmp_ok($r{recall}, '>=', 0.90, "$name after REINDEX, $am->{search} recall\@10 $r{recall} >= 0.90");
	my $eir = index_recall($idx, $am->{search});
	cmp_ok($eir, '>=', 0.90, "$name after REINDEX: embed_index_recall $eir >= 0.90");
	$node->safe_psql($db, 'DROP TABLE g');

	##### Built on an empty table: one list, an exact scan, until REINDEX

	($ret, $out, $err) = $node->psql($db, qq{
		CREATE TABLE e (id int PRIMARY KEY, v vector(100));
		CREATE INDEX e_${name} ON e USING $name (v vector_cosine_ops) $am->{with};
	});
	like($err, qr/$name index built with 1 list instead of 50: the table has 0 indexable rows/,
		"$name: an empty table gets one list");
	$node->safe_psql($db, 'INSERT INTO e SELECT id, v FROM words WHERE id <= 5000; ANALYZE e;');
	%r = recall('e', "SET $name.probes = 1;", index => "e_${name}");
	cmp_ok($r{recall}, '>=', 0.99, "$name built empty, 5,000 rows later: one list, recall\@10 $r{recall} is (nearly) exact");
	$eir = index_recall("e_${name}", '');
	cmp_ok($eir, '>=', 0.99, "$name built empty: embed_index_recall $eir agrees");
	$node->safe_psql($db, "REINDEX INDEX e_${name}");
	%r = recall('e', $am->{search}, index => "e_${name}");
	cmp_ok($r{recall}, '>=', 0.90, "$name built empty, after REINDEX: recall\@10 $r{recall} >= 0.90");
	%r = recall('e', "SET $name.probes = 1;");
	cmp_ok($r{recall}, '<', 0.8, "$name after REINDEX: one probe reads one of 50 lists, no longer everything ($r{recall})");
	$node->safe_psql($db, 'DROP TABLE e');
}

##### An index that lost pages fails the checks

# Rewrite the index file with the server stopped: list pages (special
# space: next block, type 4, page id 0xFE8B) lose their entries, as if an
# empty page had been written in their place, until a fifth of all entries
# are gone; the chains stay intact.  Returns (pages emptied, entries lost,
# entries).
sub lose_pages
{
	my ($idx) = @_;
	my $file = $node->data_dir . '/' . $node->safe_psql($db, "SELECT pg_relation_filepath('$idx')");
	$node->stop;
	open(my $fh, '+<:raw', $file) or die "open $file: $!";
	my (%page, %items);
	for my $blk (0 .. (-s $file) / 8192 - 1)
	{
		my $page;
		sysseek($fh, $blk * 8192, 0) or die;
		sysread($fh, $page, 8192) == 8192 or die "short read";
		my ($lower, $special) = unpack('v x2 v', substr($page, 12, 6));
		my ($type, $id) = unpack('x4 v v', substr($page, $special, 8));
		next unless $id == 0xFE8B && $type == 4;
		$page{$blk} = $page;
		$items{$blk} = ($lower - 24) / 4;
	}
	my $total = 0;
	$total += $_ for values %items;
	my ($emptied, $lost) = (0, 0);
	for my $blk (sort { $a <=> $b } keys %page)
	{
		last if $lost >= $total / 5;
		next unless $items{$blk};
		my $special = unpack('v', substr($page{$blk}, 16, 2));
		substr($page{$blk}, 12, 4) = pack('v v', 24, $special);    # pd_lower, pd_upper: no items
		sysseek($fh, $blk * 8192, 0) or die;
		syswrite($fh, $page{$blk}) == 8192 or die "short write";
		$emptied++;
		$lost += $items{$blk};
	}
	close($fh);
	$node->start;
	return ($emptied, $lost, $total);
}

for my $name (qw(ivfflat ivfrabitq))
{
	my $am = index_am($name, lists => 50);
	my $idx = "d_${name}";
	$node->safe_psql($db, qq{
		CREATE TABLE d (id int PRIMARY KEY, v vector(100));
		INSERT INTO d SELECT id, v FROM words WHERE id <= 5000;
		CREATE INDEX $idx ON d USING $name (v vector_cosine_ops) $am->{with};
		ANALYZE d;
	});
	my %good = recall('d', $am->{search}, index => $idx);
	my ($good_found, $checked) = self_found($node, $db, 'd', '<=>', set => $am->{search});
	cmp_ok($good{recall}, '>=', 0.90, "$name intact: recall\@10 $good{recall} >= 0.90");
	cmp_ok($good_found, '>=', 0.99 * $checked, "$name intact: rows find themselves ($good_found of $checked)");

	my ($emptied, $lost, $total) = lose_pages($idx);
	is($total, 5000, "$name: the list pages hold the 5,000 entries");
	cmp_ok($lost, '>=', 1000, "$name: $emptied pages emptied, $lost entries lost");

	# Each check the other tests make must now fail.
	my %bad = recall('d', $am->{search});
	cmp_ok($bad{recall}, '<', 0.90, "$name damaged: recall\@10 $bad{recall} falls below the 0.90 floor");
	my ($bad_found) = self_found($node, $db, 'd', '<=>', set => $am->{search});
	cmp_ok($bad_found, '<', 0.99 * $checked, "$name damaged: rows no longer all find themselves ($bad_found of $checked)");
	my ($count, $live) = index_count($node, $db, 'd', $idx, 1);
	cmp_ok($count, '<', $live, "$name damaged: VACUUM counts fewer entries ($count) than live rows ($live)");

	$node->safe_psql($db, "REINDEX INDEX $idx");
	%good = recall('d', $am->{search}, index => $idx);
	cmp_ok($good{recall}, '>=', 0.90, "$name after REINDEX: recall\@10 $good{recall} >= 0.90");
	($count, $live) = index_count($node, $db, 'd', $idx, 2);
	is($count, $live, "$name after REINDEX: the index holds the $live live rows");
	$node->safe_psql($db, 'DROP TABLE d');
}

ok(!$node->log_contains(qr/PANIC|terminated by signal/), 'no backend crash in the server log');
$node->stop;
done_testing();
