# A corrupt hnsw page gives a clear ERROR (SQLSTATE XX002, index_corrupted)
# and a hint to REINDEX, never a crash or a wild read; the server stays up,
# the table's data is untouched, and REINDEX repairs the index.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('hnsw_corrupt');
$node->init;
$node->start;
my $db = 'postgres';
$node->safe_psql($db, q{
	CREATE EXTENSION embed;
	CREATE TABLE t (id int, v vector(3));
	INSERT INTO t SELECT i, ARRAY[i % 7, i % 11, i % 13] FROM generate_series(1, 300) i;
	CREATE INDEX t_idx ON t USING hnsw (v vector_l2_ops);
	CHECKPOINT;
});
# distances, not ids: several rows tie, and a rebuilt graph may order ties differently
my $query = q{SET enable_seqscan = off; SELECT v <-> '[1,2,3]' FROM t ORDER BY v <-> '[1,2,3]' LIMIT 5};
my $before = $node->safe_psql($db, $query);

# Rewrite one byte of every element on block 1 (the first element page)
# while the server is down, so no cached copy hides it.
sub corrupt
{
	my ($what) = @_;
	# REINDEX gives the index a new file: look it up each time
	my $file = $node->data_dir . '/' . $node->safe_psql($db, "SELECT pg_relation_filepath('t_idx')");
	$node->stop;
	open(my $fh, '+<:raw', $file) or die "open $file: $!";
	my $page;
	sysseek($fh, 8192, 0) or die;
	sysread($fh, $page, 8192) == 8192 or die "short read";
	my $lower = unpack('v', substr($page, 12, 2));
	my $nitems = ($lower - 24) / 4;
	for my $i (0 .. $nitems - 1)
	{
		my $lp = unpack('V', substr($page, 24 + 4 * $i, 4));
		my $off = $lp & 0x7fff;
		next unless (($lp >> 15) & 3) == 1;    # LP_NORMAL
		if ($what eq 'level')
		{
			substr($page, $off, 1) = pack('C', 200);    # level far above the limit
		}
		elsif ($what eq 'value length')
		{
			# the stored value (last in the tuple) claims more bytes than it has
			my $len = ($lp >> 17) & 0x7fff;
			my $vecsize = unpack('V', substr($page, $off + 4, 4));
			my $valoff = $off + $len - (($vecsize + 7) & ~7);
			substr($page, $valoff, 4) = pack('V', 5000 << 2);
		}
		else
		{
			substr($page, $off + 2, 2) = pack('v', 999);    # more heap TIDs than slots
		}
	}
	sysseek($fh, 8192, 0) or die;
	syswrite($fh, $page) == 8192 or die "short write";
	close($fh);
	$node->start;
}

for my $what ('level', 'ntids', 'value length')
{
	corrupt($what);
	my ($ret, $out, $err) = $node->psql($db, $query, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	isnt($ret, 0, "$what: the query fails");
	like($err, qr/XX002: hnsw index "t_idx" has a corrupt element/, "$what: index_corrupted error");
	like($err, qr/REINDEX/, "$what: the error says how to repair");
	is($node->safe_psql($db, 'SELECT 1'), '1', "$what: server still answers");
	is($node->safe_psql($db, 'SELECT count(*), sum(id) FROM t'), '300|45150', "$what: table data intact");
	$node->safe_psql($db, 'REINDEX INDEX t_idx; CHECKPOINT;');
	is($node->safe_psql($db, $query), $before, "$what: REINDEX repairs the index");
}

# no backend crashed along the way: a crash would have restarted the postmaster's children
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|server process .* was terminated/, 'no backend crashed');

$node->stop;
done_testing();
