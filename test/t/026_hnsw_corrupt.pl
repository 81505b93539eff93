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
		next if $what eq 'heap tid' && $i > 0;    # one element: a TID held twice is another finding
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
		elsif ($what eq 'self link')
		{
			# layer 0's first link points back at the element itself
			my $level = unpack('C', substr($page, $off, 1));
			my $nbrs = $off + 72 + ((2 * ($level + 1) + 7) & ~7);
			substr($page, $off + 72, 2) = pack('v', 1) if unpack('v', substr($page, $off + 72, 2)) == 0;
			substr($page, $nbrs, 6) = pack('vvv', 0, 1, $i + 1);
		}
		elsif ($what eq 'heap tid')
		{
			substr($page, $off + 8, 6) = pack('vvv', 0x000F, 0x4240, 1);    # block 1,000,000
		}
		elsif ($what eq 'lost rows')
		{
			# flagged deleted with no heap TIDs, as VACUUM leaves a dead element: its rows lose their entry
			substr($page, $off + 1, 1) = pack('C', unpack('C', substr($page, $off + 1, 1)) | 1);
			substr($page, $off + 2, 2) = pack('v', 0);
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
	($ret, $out, $err) = $node->psql($db, "SELECT * FROM embed_index_check('t_idx')",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/XX002: hnsw index "t_idx": element \(1,1\)/, "$what: embed_index_check reports the element");
	$node->safe_psql($db, 'REINDEX INDEX t_idx; CHECKPOINT;');
	is($node->safe_psql($db, $query), $before, "$what: REINDEX repairs the index");
	is($node->safe_psql($db, "SELECT count(*) FROM embed_index_check('t_idx')"), '1',
		"$what: embed_index_check passes after REINDEX");
}

# Corruption queries may survive but embed_index_check must name (SQLSTATE XX002).
my %found = (
	'self link' => qr/element \(1,1\) links to itself on layer 0/,
	'heap tid'  => qr/item \(1,1\) holds heap TID \(1000000,1\) past the end of table "t"/,
	'lost rows' => qr/heap row \(\d+,\d+\) of table "t" is not indexed/,
);
for my $what (sort keys %found)
{
	corrupt($what);
	my ($ret, $out, $err) = $node->psql($db, "SELECT * FROM embed_index_check('t_idx')",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	isnt($ret, 0, "$what: embed_index_check fails");
	like($err, qr/XX002: hnsw index "t_idx": $found{$what}/, "$what: embed_index_check names it");
	$node->safe_psql($db, 'REINDEX INDEX t_idx; CHECKPOINT;');
	is($node->safe_psql($db, "SELECT count(*) FROM embed_index_check('t_idx')"), '1',
		"$what: clean after REINDEX");
}

# the metapage: a wrong magic number
{
	my $file = $node->data_dir . '/' . $node->safe_psql($db, "SELECT pg_relation_filepath('t_idx')");
	$node->stop;
	open(my $fh, '+<:raw', $file) or die "open $file: $!";
	sysseek($fh, 24, 0) or die;
	syswrite($fh, pack('V', 0x12345678)) == 4 or die "short write";
	close($fh);
	$node->start;
	my ($ret, $out, $err) = $node->psql($db, "SELECT * FROM embed_index_check('t_idx')",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/XX002: hnsw index "t_idx": the metapage has magic 0x12345678/, 'metapage magic: reported');
	$node->safe_psql($db, 'REINDEX INDEX t_idx; CHECKPOINT;');
}

# no backend crashed along the way: a crash would have restarted the postmaster's children
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|server process .* was terminated/, 'no backend crashed');

$node->stop;
done_testing();
